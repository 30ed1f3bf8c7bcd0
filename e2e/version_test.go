package e2e

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

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
	if strings.Contains(string(out), "Listening on") {
		t.Errorf("the log says it listens, but it could not:\n%s", out)
	}
}
