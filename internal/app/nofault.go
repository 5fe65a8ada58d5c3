//go:build !faultinject

package app

// faultHook does nothing in a release build (see fault.go).
func faultHook(string) {}
