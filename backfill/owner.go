package backfill

import (
	"fmt"
	"os/user"
	"strconv"
)

// checkStorageOwner refuses to leave, as root, the state of an exporter that runs as
// the user who owns dir: the state file would be root's, and that exporter, unable
// to read it, would count from zero.
func checkStorageOwner(dir string, euid int) error {
	uid, ok := ownerOf(dir)
	if euid != 0 || !ok || uid == 0 {
		return nil
	}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("--storage.path %s belongs to user %s, and this backfill runs as root: the state it leaves would be root's, unreadable by an exporter running as %s, which would count from zero: run it as that user, with runuser -u %s -- wolkvox_exporter backfill and the same flags",
		dir, name, name, name)
}
