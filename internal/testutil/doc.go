// Package testutil holds helpers for tests that need the real kernel: root
// checks that fail instead of skipping under CI=true, network namespaces
// joined by a veth pair, and polling with a deadline instead of sleeps.
// Only tests import it.
package testutil
