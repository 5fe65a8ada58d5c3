package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// sendFromCPUs sends n datagrams from each CPU in turn, from threads pinned
// to them: on veth the receiving hook runs on the sender's CPU, so every
// CPU's perf ring gets records, interleaved in time.
func sendFromCPUs(t *testing.T, pair *testutil.Pair, n int) {
	t.Helper()
	rx, c := udpPair(t, pair)
	defer rx.Close()
	defer c.Close()
	go func() { // drain the receiver so its queue never fills
		buf := make([]byte, 2048)
		for {
			if _, _, err := rx.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	for i := range n {
		cpu := i % runtime.NumCPU()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var set unix.CPUSet
			set.Set(cpu)
			_ = unix.SchedSetaffinity(0, &set)
			if _, err := c.Write(bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
	}
}

// runDirect runs RunDirect on the pair's interface A into w until the
// kernel has sent want records, then detaches and stops it.
func runDirect(t *testing.T, pair *testutil.Pair, w PacketWriter, limit uint64, send func(), want uint64) (*Session, WriteResult, int) {
	t.Helper()
	sess := openIn(t, pair, Options{FlushInterval: 10 * time.Millisecond})
	t.Cleanup(func() { sess.Close() })
	var res WriteResult
	stops := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sess.RunDirect(ctx, w, limit, func() { stops++ }, &res) }()
	send()
	testutil.Eventually(t, 5*time.Second, func() bool {
		c, _ := sess.Counters()
		return c.Sent >= want
	}, "kernel did not send %d records", want)
	if err := sess.Detach(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	return sess, res, stops
}

// TestRunDirect: records of every CPU's ring come out in one file, all of
// them, in time order.
func TestRunDirect(t *testing.T) {
	pair := testutil.NewPair(t)
	var buf bytes.Buffer
	w, _ := pcapfile.NewPcapWriter(&buf, 262144, 1)
	const n = 400
	sess, res, stops := runDirect(t, pair, w, 0, func() { sendFromCPUs(t, pair, n) }, n)
	c, _ := sess.Counters()
	if res.Err != nil || res.Written != c.Sent || c.Failed != 0 || stops != 0 {
		t.Fatalf("kernel sent %d (failed %d); wrote %d, err %v, stop called %d times", c.Sent, c.Failed, res.Written, res.Err, stops)
	}
	if got := sess.Reader.Stats.Received.Load(); got != res.Written {
		t.Errorf("Stats.Received %d, wrote %d", got, res.Written)
	}
	pr, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	count := 0
	for {
		_, ci, err := pr.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(last) {
			t.Fatalf("packet %d at %v is older than the one before it (%v)", count, ci.Timestamp, last)
		}
		last = ci.Timestamp
		count++
	}
	if uint64(count) != res.Written {
		t.Errorf("file has %d packets, wrote %d", count, res.Written)
	}
}

// TestRunDirectLimit: after limit packets the file is complete, stop is
// called once, and the rest is read and dropped.
func TestRunDirectLimit(t *testing.T) {
	pair := testutil.NewPair(t)
	var buf bytes.Buffer
	w, _ := pcapfile.NewPcapWriter(&buf, 262144, 1)
	_, res, stops := runDirect(t, pair, w, 5, func() { sendDatagrams(t, pair, 20) }, 20)
	if res.Err != nil || res.Written != 5 || stops != 1 || w.Count() != 5 {
		t.Fatalf("wrote %d (writer counted %d), err %v, stop called %d times", res.Written, w.Count(), res.Err, stops)
	}
}

// failingWriter fails from its nth packet on.
type failingWriter struct {
	n, written int
}

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(*packet.Packet) error {
	if f.written >= f.n {
		return errDiskFull
	}
	f.written++
	return nil
}
func (f *failingWriter) Flush() error { return nil }

// TestRunDirectWriteError: the first write error is kept, stop is called
// once, and the capture still ends normally.
func TestRunDirectWriteError(t *testing.T) {
	pair := testutil.NewPair(t)
	fw := &failingWriter{n: 3}
	_, res, stops := runDirect(t, pair, fw, 0, func() { sendDatagrams(t, pair, 10) }, 10)
	if !errors.Is(res.Err, errDiskFull) || res.Written != 3 || stops != 1 {
		t.Fatalf("wrote %d, err %v, stop called %d times", res.Written, res.Err, stops)
	}
}
