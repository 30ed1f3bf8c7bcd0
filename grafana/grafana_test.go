package grafana_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/grafana"
)

// The committed JSON, which users import and the provisioning reads, is what the
// package builds: after a change to the dashboards, run go generate ./grafana.
func TestCommittedDashboardsAreCurrent(t *testing.T) {
	built, err := grafana.Dashboards("")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(built) {
		t.Errorf("dashboards/ holds %v, the package builds %d", files, len(built))
	}
	for name, want := range built {
		got, err := os.ReadFile(filepath.Join("dashboards", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/%s is not what the package builds: run go generate ./grafana", name)
		}
	}
}
