package capture

import (
	"testing"
	"time"
)

func TestClockWall(t *testing.T) {
	c := NewClock()
	off, width := c.Offset()
	if width < 0 || width > time.Millisecond {
		t.Fatalf("calibration window %v: paired reads should be microseconds apart", width)
	}
	// Sub-second precision: the offset is not rounded to seconds.
	if off%time.Second == 0 {
		t.Errorf("offset %v is a whole number of seconds: suspiciously coarse", off)
	}
	// A stamp taken now converts to now, to well within a millisecond.
	before := time.Now()
	w := c.Wall(Monotonic())
	after := time.Now()
	if w.Before(before.Add(-time.Millisecond)) || w.After(after.Add(time.Millisecond)) {
		t.Errorf("Wall(now) = %v, outside [%v, %v]", w, before, after)
	}
	// Nanosecond resolution: distinct kernel stamps give distinct times,
	// their difference preserved exactly.
	k := Monotonic()
	if d := c.Wall(k + 1).Sub(c.Wall(k)); d != time.Nanosecond {
		t.Errorf("1 ns apart in the kernel, %v apart on the wall", d)
	}
	if d := c.Wall(k + 1500).Sub(c.Wall(k)); d != 1500*time.Nanosecond {
		t.Errorf("1500 ns apart in the kernel, %v apart on the wall", d)
	}
}

func TestClockRecalibrationFollowsOffset(t *testing.T) {
	c := NewClock()
	off, _ := c.Offset()
	// Simulate a stale offset (as after an NTP step); Calibrate must
	// replace it, not average with it.
	c.offset.Store(int64(off) + int64(5*time.Second))
	c.Calibrate()
	got, _ := c.Offset()
	if d := (got - off).Abs(); d > time.Millisecond {
		t.Errorf("after recalibration offset is %v, want about %v", got, off)
	}
}
