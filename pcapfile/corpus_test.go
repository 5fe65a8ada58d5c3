package pcapfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestCorpusConvertMatchesTcpdump converts every capture of tcpdump's test
// suite with -r F -w OUT and checks that the file we write is byte for byte
// the file `tcpdump -r F --time-stamp-precision=nano -w OUT` writes (same
// header, same records: data, timestamps, lengths), or, where tcpdump cannot
// read a file at all, that we refuse it with an error too.
func TestCorpusConvertMatchesTcpdump(t *testing.T) {
	dir := testutil.Corpus(t)
	testutil.RequireTool(t, "tcpdump")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var same, bothRefused, files int
	for i, e := range entries {
		if testing.Short() && i%10 != 0 {
			continue // make test-unit: a tenth of the corpus
		}
		name := e.Name()
		files++
		in := filepath.Join(dir, name)
		theirs := filepath.Join(tmp, "t-"+name)
		tdErr := exec.Command("tcpdump", "-r", in, "--time-stamp-precision=nano", "-w", theirs).Run()
		ours := filepath.Join(tmp, "o-"+name)
		ourErr := convertFile(in, ours)

		tb, _ := os.ReadFile(theirs)
		ob, _ := os.ReadFile(ours)
		if len(tb) == 0 {
			if ourErr == nil {
				t.Errorf("%s: tcpdump cannot read it (%v), we read it without error", name, tdErr)
			}
			bothRefused++
			continue
		}
		if (tdErr != nil) != (ourErr != nil) {
			t.Errorf("%s: tcpdump error %v, ours %v", name, tdErr, ourErr)
		}
		if !bytes.Equal(ob, tb) {
			i := 0
			for i < len(ob) && i < len(tb) && ob[i] == tb[i] {
				i++
			}
			t.Errorf("%s: our file (%d bytes) differs from tcpdump's (%d bytes) at offset %d", name, len(ob), len(tb), i)
			continue
		}
		same++
	}
	t.Logf("%d files: %d converted byte for byte as tcpdump does, %d refused by both", files, same, bothRefused)
	if same+bothRefused != files {
		t.Errorf("%d of %d files differ", files-same-bothRefused, files)
	}
}

func convertFile(in, out string) error {
	cf, err := OpenFile(in)
	if err != nil {
		return err
	}
	defer cf.Close()
	f, err := CreateOutput(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := NewPcapWriter(f.File(), cf.Snaplen, cf.LinkType)
	if err != nil {
		return err
	}
	_, err = cf.CopyTo(w, nil)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}
