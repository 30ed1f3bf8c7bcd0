// Command generate writes the dashboards the grafana package builds into
// grafana/dashboards, where users import them and the provisioning reads them.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wolkvox-exporter/wolkvox_exporter/grafana"
)

func main() {
	dashboards, err := grafana.Dashboards()
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
	for name, data := range dashboards {
		if err := os.WriteFile(filepath.Join("dashboards", name), data, 0o644); err != nil { //nolint:gosec // G306: dashboards are read by Grafana, under a user of its own
			fmt.Fprintln(os.Stderr, "generate:", err)
			os.Exit(1)
		}
	}
}
