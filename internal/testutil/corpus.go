package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// CorpusDir finds ../shared/corpus/tcpdump-tests beside the module root
// (the directory holding go.mod): tcpdump's own test captures.
func CorpusDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", "tcpdump-tests")
	_, err = os.Stat(c)
	return c, err
}

// Corpus is CorpusDir for tests: it skips the test without the corpus, and
// fails it under CI=true.
func Corpus(tb testing.TB) string {
	tb.Helper()
	c, err := CorpusDir()
	if err != nil {
		SkipOrFail(tb, "corpus missing: %v", err)
	}
	return c
}
