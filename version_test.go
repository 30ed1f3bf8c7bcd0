package main

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

// The version comes from release ldflags, or else from what go records in the binary.
func TestFillVersion(t *testing.T) {
	saved := [2]string{version.Version, version.BuildDate}
	t.Cleanup(func() { version.Version, version.BuildDate = saved[0], saved[1] })
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-30T09:00:45Z"}}
	for _, tc := range []struct {
		name                  string
		ldflagsVersion        string
		main                  string
		settings              []debug.BuildSetting
		wantVersion, wantDate string
	}{
		{"go install ...@v1.2.0", "", "v1.2.0", nil, "1.2.0", ""},
		{"go build in a git checkout", "", "v0.0.0-20261130090045-6058168363d7+dirty", vcs, "0.0.0-20261130090045-6058168363d7+dirty", "2026-11-30T09:00:45Z"},
		{"go build without version control", "", "(devel)", nil, "devel", ""},
		{"release ldflags win", "1.4.0", "v1.2.0", vcs, "1.4.0", "2026-11-30T09:00:45Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version.Version, version.BuildDate = tc.ldflagsVersion, ""
			fillVersion(&debug.BuildInfo{Main: debug.Module{Version: tc.main}, Settings: tc.settings})
			if version.Version != tc.wantVersion || version.BuildDate != tc.wantDate {
				t.Errorf("version %q, date %q; want %q, %q", version.Version, version.BuildDate, tc.wantVersion, tc.wantDate)
			}
		})
	}
}
