package main

import (
	"net"
	"os/exec"
	"runtime/debug"
	"strings"
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

// A binary built with plain go build states a version everywhere it shows one.
func TestBuiltBinaryStatesAVersion(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), exporterBin, "--version").CombinedOutput()
	if err != nil || strings.Contains(string(out), "version  (") || !strings.Contains(string(out), "wolkvox_exporter, version ") {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	e := startExporter(t, "--demo", "--demo.clock="+officeHours.Format("2006-01-02T15:04:05Z07:00"))
	if _, page := e.get(t, "/"); strings.Contains(page, "version=,") {
		t.Errorf("the landing page shows an empty version")
	}
	for _, m := range e.metrics(t)["wolkvox_exporter_build_info"].GetMetric() {
		if v := labelsOf(m)["version"]; v == "" {
			t.Errorf("wolkvox_exporter_build_info has an empty version label")
		}
	}
}

// An address in use is named, before anything says it serves there.
func TestListenAddressInUse(t *testing.T) {
	var lc net.ListenConfig
	busy, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }() // the test's own listener
	addr := busy.Addr().String()
	cmd := exec.CommandContext(t.Context(), exporterBin, "--demo", "--web.listen-address="+addr)
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, out)
	}
	if !strings.Contains(string(out), "address "+addr+" is already in use") || !strings.Contains(string(out), "--web.listen-address") {
		t.Errorf("the log does not name the busy address and the way out:\n%s", out)
	}
	if strings.Contains(string(out), "serving metrics") {
		t.Errorf("the log says it serves metrics, but it could not listen:\n%s", out)
	}
}
