//go:build faultinject

package app

import "os"

// faultHook lets the end-to-end tests inject a panic at a named place
// (BPFTOP_CAP_FAULT=panic-writer, ...). Only in binaries built with
// -tags faultinject, as the e2e tests build theirs.
func faultHook(place string) {
	if os.Getenv("BPFTOP_CAP_FAULT") == "panic-"+place {
		panic("injected fault at " + place)
	}
}
