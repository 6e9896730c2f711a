package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNotInstalled is why [Start] and [FindBin] fail on a machine without
// PostgreSQL's server binaries.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (no postgres and initdb in /usr/lib/postgresql/*/bin or on PATH)")

// FindBin returns the directory of the newest installed PostgreSQL: the
// highest version of /usr/lib/postgresql/VERSION/bin (Debian's packages)
// that has postgres and initdb, else the directory of postgres on PATH.
// Its pgbench is the one of the same installation.
func FindBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			found = append(found, d)
		}
	}
	sort.Slice(found, func(i, j int) bool { return versionOf(found[i]) > versionOf(found[j]) })
	if len(found) > 0 {
		return found[0], nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgserver: %w", ErrNotInstalled)
}

// versionOf is the major version in /usr/lib/postgresql/VERSION/bin.
func versionOf(bin string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
