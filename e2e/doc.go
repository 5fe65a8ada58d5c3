// Package e2e holds bpftop-cap's privileged end-to-end tests: they build the
// real binary, make their own network namespaces and veth pair, attach the
// real BPF programs, send real traffic and check the result with tcpdump.
// Under CI=true a test that cannot run fails instead of skipping. Tests of
// the kernel programs against decode's model of them live here too: e2e
// may import any package; nothing imports it.
package e2e
