// Command generate writes the dashboards the grafana package builds: by default for
// America/Bogota into grafana/dashboards, where users import them and the
// provisioning reads them; with -timezone, for another operation's time zone.
//
//	go run ./grafana/generate -timezone America/Mexico_City -output /tmp/dashboards
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wolkvox-exporter/wolkvox_exporter/grafana"
)

func main() {
	zone := flag.String("timezone", grafana.DefaultTimezone, "the operations' time zone, an IANA name such as America/Santiago: \"today\" starts at its midnight")
	output := flag.String("output", "dashboards", "the directory to write the dashboards' JSON files into")
	flag.Parse()
	if err := generate(*zone, *output); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func generate(zone, output string) error {
	dashboards, err := grafana.Dashboards(zone)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(output, 0o755); err != nil { //nolint:gosec // G301: dashboards are read by Grafana, under a user of its own
		return err
	}
	for name, data := range dashboards {
		path := filepath.Join(output, name)
		if err := os.WriteFile(path, data, 0o644); err != nil { //nolint:gosec // G306: dashboards are read by Grafana, under a user of its own
			return err
		}
		fmt.Printf("wrote %s, for %s\n", path, zone)
	}
	return nil
}
