package pcapfile

// SetProcessComments gives the comments that name a packet's process
// (packet.Packet's Pid), written after the hook's: "process: curl (pid
// 4123)", then its container or cgroup. comments returns nil for a pid it
// knows nothing of; it is called for every packet with a pid, and must be
// cheap (a cache).
func (p *PcapngWriter) SetProcessComments(comments func(pid uint32) []string) {
	p.procComments = comments
}
