package backfill

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// A backfill run as root refuses to leave the state in a --storage.path that another
// user, the exporter's, owns; that user, or root in its own directory, may.
func TestStorageOwnedByAnotherUserRefusesRoot(t *testing.T) {
	dir := t.TempDir()
	owner := os.Geteuid()
	if owner == 0 { // as root: give the directory to another user, as the README's install does
		owner = 65534
		if err := os.Chown(dir, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	err := checkStorageOwner(dir, 0)
	if err == nil || !strings.Contains(err.Error(), "this backfill runs as root") || !strings.Contains(err.Error(), "runuser -u ") {
		t.Errorf("as root, in a directory of user %d: %v, want a refusal naming runuser", owner, err)
	}
	if err := checkStorageOwner(dir, owner); err != nil {
		t.Errorf("as the directory's owner %s: %v", strconv.Itoa(owner), err)
	}
	rootsOwn := t.TempDir()
	if os.Geteuid() == 0 {
		if err := checkStorageOwner(rootsOwn, 0); err != nil {
			t.Errorf("as root, in root's directory: %v", err)
		}
	}
}
