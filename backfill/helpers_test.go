package backfill_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// treeState lists the files under path, a file or a directory, with their sizes
// and times: what a run that changes nothing leaves as it was.
func treeState(tb testing.TB, path string) string {
	tb.Helper()
	var b strings.Builder
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, fi.Size(), fi.ModTime())
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// treeSize is the bytes of the files under path, a file or a directory.
func treeSize(tb testing.TB, path string) int64 {
	tb.Helper()
	var size int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		size += fi.Size()
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return size
}
