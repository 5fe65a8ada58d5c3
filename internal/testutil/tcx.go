package testutil

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// tcxPrograms lists programs attached with tcx to the interface (in the
// calling thread's namespace).
func tcxPrograms(ifindex int) ([]string, error) {
	var found []string
	for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
		r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: at})
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("query tcx: %w", err)
		}
		for _, p := range r.Programs {
			found = append(found, fmt.Sprintf("tcx %v prog %d", at, p.ID))
		}
	}
	return found, nil
}
