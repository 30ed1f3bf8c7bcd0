package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A write replaces the file whole with the mode asked for; a write that fails leaves
// the old file as it was, and no temporary file beside it.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	write := func(text string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, text); return err }
	}
	if err := WriteFile(path, 0o600, write("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, 0o640, write("second")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "second" {
		t.Fatalf("file holds %q, want second", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v; want 0640", fi.Mode().Perm(), err)
	}
	broken := errors.New("disk full")
	err := WriteFile(path, 0o600, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("err %v, want the writer's", err)
	}
	if got := readFile(t, path); got != "second" {
		t.Fatalf("a failed write left %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// A write into a directory that does not exist says so, naming the file.
func TestWriteFileReportsErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "state.json")
	if err := WriteFile(path, 0o600, func(io.Writer) error { return nil }); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want not exist", err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("syncing a missing directory succeeded")
	}
}

// Clean removes what writes cut short left behind, and nothing else.
func TestClean(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{TempPrefix + "main.json-123", TempPrefix + "block-dir", "main.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Clean(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "main.json" {
		t.Fatalf("after Clean: %v, %v; want main.json alone", entries, err)
	}
}
