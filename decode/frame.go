package decode

import "time"

// Dir is the direction a packet was captured in, relative to the host.
type Dir uint8

// Directions.
const (
	DirUnknown Dir = iota
	DirIn          // ingress
	DirOut         // egress
)

// String returns "in", "out" or "?".
func (d Dir) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return "?"
}

// Frame is one captured Ethernet frame as handed to the Engine.
type Frame struct {
	TS      time.Time // capture time
	Ifindex int       // interface the frame was seen on
	Dir     Dir       // ingress or egress
	OrigLen int       // length on the wire; may exceed len(Data) (snaplen)
	Data    []byte    // captured bytes, starting at the Ethernet header
}

// unixNano converts t to nanoseconds since the epoch, mapping the zero
// time to 0 (time.Time{}.UnixNano is undefined).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
