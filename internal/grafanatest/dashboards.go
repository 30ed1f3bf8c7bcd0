package grafanatest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/grafana"
)

// Dashboard is one dashboard's JSON model, as the grafana package builds it.
type Dashboard struct {
	File string // such as wolkvox-chats.json
	JSON map[string]any
	// Panels are its panels, those in its rows included, the rows not.
	Panels []DashboardPanel
}

// DashboardPanel is a panel with the file of the dashboard it is on, which its
// String names for a test's message.
type DashboardPanel struct {
	File string
	Panel
}

func (d DashboardPanel) String() string { return fmt.Sprintf("%s, panel %q", d.File, d.Str("title")) }

// Target is one query of a panel, as its JSON model writes it.
type Target struct {
	RefID, Expr, Legend string
	Instant             bool // one value at the dashboard's end, not a time series
}

// Targets are the panel's queries, in order.
func (p Panel) Targets() []Target {
	raw, _ := p.Get("targets").([]any)
	out := make([]Target, 0, len(raw))
	for _, t := range raw {
		refID, _ := Dig(t, "refId").(string)
		expr, _ := Dig(t, "expr").(string)
		legend, _ := Dig(t, "legendFormat").(string)
		instant, _ := Dig(t, "instant").(bool)
		out = append(out, Target{RefID: refID, Expr: expr, Legend: legend, Instant: instant})
	}
	return out
}

// Dashboards are the dashboards the grafana package builds for zone ("" for its
// default), by file name. The grafana package's own test checks that the committed
// JSON is what it builds.
func Dashboards(tb testing.TB, zone string) []Dashboard {
	tb.Helper()
	built, err := grafana.Dashboards(zone)
	if err != nil || len(built) != 2 {
		tb.Fatalf("want the two dashboards, built %d (%v)", len(built), err)
	}
	var out []Dashboard
	for _, name := range slices.Sorted(maps.Keys(built)) {
		d := Dashboard{File: name}
		if err := json.Unmarshal(built[name], &d.JSON); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		var walk func([]any)
		walk = func(ps []any) {
			for _, p := range ps {
				m, _ := p.(map[string]any)
				if m["type"] == "row" {
					inner, _ := m["panels"].([]any)
					walk(inner)
					continue
				}
				d.Panels = append(d.Panels, DashboardPanel{name, m})
			}
		}
		panels, _ := d.JSON["panels"].([]any)
		walk(panels)
		out = append(out, d)
	}
	return out
}

// AllPanels are the panels of every dashboard of Dashboards(tb, "").
func AllPanels(tb testing.TB) []DashboardPanel {
	tb.Helper()
	var out []DashboardPanel
	for _, d := range Dashboards(tb, "") {
		out = append(out, d.Panels...)
	}
	return out
}

// The tests look at the dashboards in a window 1600 px wide: the docked menu takes
// 300 px and the dashboard 16 px of padding on each side, so 24 columns share
// 1268 px, and panels are 8 px apart. A panel keeps 8 px of padding on each side
// of what it draws.
const (
	WindowWidth      = 1600.0
	dockedMenuWidth  = 300.0
	dashboardPadding = 16.0
	panelGap         = 8.0
	panelPadding     = 8.0
)

// PanelWidth is how many pixels wide a panel of so many grid columns is in the
// window.
func PanelWidth(columns float64) float64 {
	return columns*(WindowWidth-dockedMenuWidth-2*dashboardPadding)/24 - panelGap
}

// PlotWidth is how many pixels wide a panel of so many grid columns draws its
// chart: a View's Width, which gives a chart as many points.
func PlotWidth(columns float64) float64 { return PanelWidth(columns) - 2*panelPadding }
