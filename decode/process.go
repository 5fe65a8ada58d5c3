package decode

// SetProcessNames gives the function that names the process owning a
// flow (FlowView.Process, and so the text filter): a pid to "curl[4123]"
// with its container or systemd unit, "" when it knows none. It is called
// outside the engine's lock, once per flow and view, and must be cheap
// (a cache) and safe for concurrent use.
//
// It also starts counting the traffic of each process (Processes): the
// packets added before are not counted.
func (e *Engine) SetProcessNames(name func(pid uint32) string) {
	e.mu.Lock()
	e.procName = name
	if e.procs == nil && name != nil {
		e.procs = newProcTable()
		e.flows.procs = e.procs
	}
	e.mu.Unlock()
}
