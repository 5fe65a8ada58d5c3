package proc

import (
	"slices"
	"testing"
)

// TestInfoComments: the process, then its container or its cgroup, but
// not the root cgroup, which names nothing.
func TestInfoComments(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want []string
	}{
		{Info{Pid: 4123, Comm: "curl", Cgroup: "/user.slice/session-1.scope"}, []string{"process: curl (pid 4123)", "cgroup: /user.slice/session-1.scope"}},
		{Info{Pid: 1, Comm: "init", Cgroup: "/"}, []string{"process: init (pid 1)"}},
		{Info{Pid: 7, Comm: "x"}, []string{"process: x (pid 7)"}},
		{Info{Pid: 9, Comm: "nginx", Cgroup: "/kubepods/abc", Container: Container{Runtime: "containerd", ID: "0123456789abcdef0123"}},
			[]string{"process: nginx (pid 9)", "container: containerd 0123456789ab"}},
	} {
		if got := tc.info.Comments(); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.info, got, tc.want)
		}
	}
}
