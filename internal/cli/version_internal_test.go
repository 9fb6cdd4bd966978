package cli

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel), commit unknown"},
		{"go test or go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/jobhooks/jobhooks", Version: "(devel)"}},
			"(devel), commit unknown, go1.26.8"},
		{"no main version", &debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel), commit unknown, go1.26.8"},
		{"go build in a modified checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.1-0.20261203114000-24b5d9a0c1d2+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "24b5d9a0c1d2e3f4"}, {Key: "vcs.modified", Value: "true"}}},
			"v0.4.1-0.20261203114000-24b5d9a0c1d2+dirty, commit 24b5d9a0c1d2e3f4 (modified), go1.26.8"},
		{"go install of a release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.0.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			"v1.0.0, commit abc, go1.26.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, versionOf(tc.info))
		})
	}
}
