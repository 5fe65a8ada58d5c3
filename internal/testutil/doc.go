// Package testutil holds helpers for tests that need the real kernel: root
// checks that fail instead of skipping under CI=true, network namespaces
// joined by a veth pair, polling with a deadline instead of sleeps, and
// the one locator of tcpdump's test captures (Corpus). Only tests import
// it; it imports only internal/nsutil of this project.
package testutil
