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
	version, commit, modified, goVersion := "(devel)", "unknown", false, ""
	if info != nil {
		if v := info.Main.Version; v != "" {
			version = v
		}
		goVersion = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	parts := []string{version, "commit " + commit}
	if modified {
		parts[1] += " (modified)"
	}
	if goVersion != "" {
		parts = append(parts, goVersion)
	}
	return strings.Join(parts, ", ")
}
