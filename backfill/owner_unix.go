//go:build unix

package backfill

import (
	"os"
	"syscall"
)

// ownerOf returns the user id that owns path, if the system says.
func ownerOf(path string) (int, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
