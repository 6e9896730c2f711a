package metrics

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Build describes the running binary, as the Go toolchain recorded it:
// for bertsync_build_info, the log line a server starts with and
// bertsync version.
type Build struct {
	// Version is the main module's version: a release tag ("v1.2.0")
	// for a binary built by go install …@version, a pseudo-version for
	// one built in a checkout with VCS stamping, else "(devel)".
	Version string
	// Revision, Time and Modified are the VCS stamp (go build
	// -buildvcs, the default in a checkout): the commit, its time
	// (RFC 3339) and whether the work tree had changes. Empty when the
	// binary carries no stamp.
	Revision, Time string
	Modified       bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// ReadBuild returns the [Build] of the running binary.
func ReadBuild() Build {
	b := Build{Version: "(devel)", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	if info.GoVersion != "" {
		b.GoVersion = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is b on one line: "v1.2.0 (revision 4f2a…, 2026-11-22T21:00:00Z,
// modified) go1.26.8", the parenthesis only with a VCS stamp.
func (b Build) String() string {
	var sb strings.Builder
	sb.WriteString(b.Version)
	if b.Revision != "" || b.Time != "" {
		var parts []string
		if b.Revision != "" {
			parts = append(parts, "revision "+b.Revision)
		}
		if b.Time != "" {
			parts = append(parts, b.Time)
		}
		if b.Modified {
			parts = append(parts, "modified")
		}
		sb.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	sb.WriteString(" " + b.GoVersion)
	return sb.String()
}
