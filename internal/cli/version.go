package cli

import (
	"runtime/debug"
	"strings"
)

// Version returns what --version prints after the command's name: the
// module version and the VCS commit the binary was built from, as the Go
// toolchain recorded them ("(devel)" for a build of a work tree, "commit
// unknown" without VCS information, e.g. under go run or go test).
func Version() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	b := buildOf(info)
	parts := []string{b.version, "commit " + b.commit}
	if b.modified {
		parts[1] += " (modified)"
	}
	if b.goVersion != "" {
		parts = append(parts, b.goVersion)
	}
	return strings.Join(parts, ", ")
}

// build is what the Go toolchain recorded of a binary's build.
type build struct {
	version, commit string // "(devel)" and "unknown" when not recorded
	modified        bool   // built from a work tree with changes
	goVersion       string
}

func buildOf(info *debug.BuildInfo) build {
	b := build{version: "(devel)", commit: "unknown"}
	if info == nil {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.version = v
	}
	b.goVersion = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.commit = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}
