package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installedBinary is where the README installs the binary and the unit runs it.
const installedBinary = "/usr/local/bin/wolkvox_exporter"

// The shipped unit file is one systemd accepts, as systemd-analyze verify reads it,
// with the binary where the README installs it (here the one the tests built), and
// flags the binary knows.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		msg := "systemd-analyze not found (Debian's systemd package): the unit file is not verified"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "systemd", "wolkvox_exporter.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(unit, "ExecStart="+installedBinary+" ") || !strings.Contains(string(readme), "install -m 0755 wolkvox_exporter "+filepath.Dir(installedBinary)+"/") {
		t.Fatalf("the unit does not run %s, or the README does not install the binary there", installedBinary)
	}
	path := filepath.Join(t.TempDir(), "wolkvox_exporter.service")
	writeFile(t, path, strings.ReplaceAll(unit, installedBinary, exporterBin))
	out, err := exec.CommandContext(t.Context(), analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The flags of ExecStart are the binary's: it parses them (and --help stops it).
	_, execStart, _ := strings.Cut(unit, "ExecStart=")
	var args []string
	for f := range strings.FieldsSeq(strings.ReplaceAll(execStart, "\\\n", " ")) {
		if !strings.HasPrefix(f, "--") {
			if len(args) > 0 {
				break
			}
			continue
		}
		args = append(args, f)
	}
	if len(args) < 2 {
		t.Fatalf("no flags found in ExecStart: %v", args)
	}
	if out, err := exec.CommandContext(t.Context(), exporterBin, append(args, "--help")...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}
