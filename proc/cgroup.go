package proc

import (
	"strings"
)

// Container is a container runtime's container, found in a cgroup path.
type Container struct {
	Runtime string // "docker", "containerd", "crio", "podman"
	ID      string // the full id (64 hex digits)
}

// Short is the id as the runtimes print it: its first 12 digits.
func (c Container) Short() string {
	if len(c.ID) > 12 {
		return c.ID[:12]
	}
	return c.ID
}

// runtimes are the scope prefixes of the runtimes' systemd cgroup driver
// (docker-ID.scope, ...); with the cgroupfs driver the id is a directory
// of its own (/docker/ID, /kubepods/burstable/podUID/ID).
var runtimes = []struct{ prefix, name string }{
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"crio-", "crio"},
	{"libpod-", "podman"},
}

// ContainerOf finds the container in a cgroup v2 path, the innermost one
// (a container's own sub-cgroups, such as podman's "container", are
// looked through). A runtime's monitor (crio-conmon-ID, libpod-conmon-ID)
// is not its container.
func ContainerOf(path string) (Container, bool) {
	parts := strings.Split(path, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if strings.Contains(p, "conmon") {
			return Container{}, false
		}
		base := strings.TrimSuffix(p, ".scope")
		for _, r := range runtimes {
			if id, ok := strings.CutPrefix(base, r.prefix); ok && isID(id) {
				return Container{Runtime: r.name, ID: id}, true
			}
		}
		if isID(p) {
			// cgroupfs: the runtime from the parents.
			rt := "containerd"
			switch {
			case i > 0 && parts[i-1] == "docker":
				rt = "docker"
			case strings.Contains(path, "libpod"):
				rt = "podman"
			case strings.Contains(path, "crio"):
				rt = "crio"
			}
			return Container{Runtime: rt, ID: p}, true
		}
	}
	return Container{}, false
}

// isID reports whether s is a container id: 64 lowercase hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// UnitOf is the systemd unit a cgroup path ends in: its innermost service
// or scope ("nginx.service", "session-3.scope"), "" if none.
func UnitOf(path string) string {
	parts := strings.Split(path, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if p := parts[i]; strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".scope") {
			return p
		}
	}
	return ""
}

// cgroupOfProc is the cgroup v2 path in the contents of /proc/PID/cgroup
// (its "0::PATH" line), "" if none.
func cgroupOfProc(b []byte) string {
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "0::"); ok {
			return p
		}
	}
	return ""
}
