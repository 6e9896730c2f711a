package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// runAs is the user the server's processes run as; nil is this
// process's own.
type runAs struct{ uid, gid int }

// credential is the user the server runs as: nil (this process's own)
// unless this process is root, which initdb and postgres refuse.
func credential() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("pgserver: running as root needs the user nobody to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgserver: user nobody: %w", err)
	}
	return &runAs{uid: uid, gid: gid}, nil
}
