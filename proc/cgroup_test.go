package proc

import (
	"strings"
	"testing"
)

func TestContainerOf(t *testing.T) {
	id := strings.Repeat("3f2a1b9c", 8)
	for _, tc := range []struct {
		path, runtime, unit string
	}{
		{"/system.slice/docker-" + id + ".scope", "docker", ""},
		{"/docker/" + id, "docker", ""},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-" + id + ".scope", "containerd", ""},
		{"/kubepods/burstable/pod12345678-aaaa-bbbb-cccc-1234567890ab/" + id, "containerd", ""},
		{"/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope", "crio", ""},
		{"/kubepods/besteffort/pod1/crio-" + id, "crio", ""},
		{"/machine.slice/libpod-" + id + ".scope", "podman", ""},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container", "podman", ""},
		{"/machine.slice/libpod-conmon-" + id + ".scope", "", "libpod-conmon-" + id + ".scope"},
		{"/system.slice/crio-conmon-" + id + ".scope", "", "crio-conmon-" + id + ".scope"},
		{"/system.slice/nginx.service", "", "nginx.service"},
		{"/user.slice/user-1000.slice/session-3.scope", "", "session-3.scope"},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope", "", "app-firefox-1234.scope"},
		{"/", "", ""},
		{"", "", ""},
		{"/docker/" + strings.ToUpper(id), "", ""},                                         // not an id: ids are lowercase
		{"/system.slice/docker-" + id[:63] + ".scope", "", "docker-" + id[:63] + ".scope"}, // one digit short
	} {
		c, ok := ContainerOf(tc.path)
		if ok != (tc.runtime != "") || c.Runtime != tc.runtime || ok && (c.ID != id || c.Short() != id[:12]) {
			t.Errorf("ContainerOf(%q) = %+v %v, want %s", tc.path, c, ok, tc.runtime)
		}
		if !ok {
			if u := UnitOf(tc.path); u != tc.unit {
				t.Errorf("UnitOf(%q) = %q, want %q", tc.path, u, tc.unit)
			}
		}
	}
}

func TestCgroupOfProc(t *testing.T) {
	for in, want := range map[string]string{
		"0::/system.slice/nginx.service\n":                                "/system.slice/nginx.service",
		"12:cpu,cpuacct:/user.slice\n1:name=systemd:/x\n0::/init.scope\n": "/init.scope",
		"12:cpu,cpuacct:/user.slice\n":                                    "",
		"":                                                                "",
	} {
		if got := cgroupOfProc([]byte(in)); got != want {
			t.Errorf("cgroupOfProc(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabel(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{Pid: 4123, Comm: "curl"}, "curl[4123]"},
		{Info{Pid: 911, Comm: "nginx", Unit: "nginx.service"}, "nginx[911] nginx.service"},
		{Info{Pid: 5, Comm: "redis-server", Container: Container{Runtime: "docker", ID: id}, Unit: "x.scope"}, "redis-server[5] " + id[:12]},
		{Info{Pid: 6}, "?[6]"},
	} {
		if got := tc.info.Label(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.info, got, tc.want)
		}
	}
}
