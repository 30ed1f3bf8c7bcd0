// Package durable writes files so that a crash or a power cut at any moment leaves
// either the old file or the new one, whole: never a mix, and never an empty file.
package durable

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file or directory this package
// makes; Clean removes what a crash left of them.
const TempPrefix = ".tmp-"

// WriteFile writes path with perm: write fills a temporary file in the same
// directory, which is synced, renamed over path, and the directory synced.
func WriteFile(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir, name := filepath.Split(path)
	f, err := os.CreateTemp(dir, TempPrefix+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp) // what is left is only clutter, and Clean removes it
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Rename(tmp, path)
}

// Rename renames oldpath to newpath, both in one directory, and syncs the
// directory: a rename is durable only then.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(newpath))
}

// SyncDir makes the entries of dir durable: files created, renamed or removed in it.
func SyncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: a directory the exporter writes to
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Clean removes the temporary files and directories that writes cut short by a
// crash left in dir.
func Clean(dir string) error {
	leftovers, err := filepath.Glob(filepath.Join(dir, TempPrefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range leftovers {
		errs = append(errs, os.RemoveAll(f))
	}
	return errors.Join(errs...)
}
