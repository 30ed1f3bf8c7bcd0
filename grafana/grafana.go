// Package grafana builds the exporter's two Grafana dashboards, with Grafana's
// foundation SDK: each query pattern, panel kind, unit and colour is written once.
// The JSON it renders is committed under dashboards/, which users import and the
// provisioning reads; go generate renders it again, and a test fails when it is
// not current.
package grafana

//go:generate go run ./generate

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Dashboards renders each dashboard as the JSON Grafana imports, by file name, for
// operations in the time zone named zone (an IANA name; "" is DefaultTimezone):
// their "today" starts at its midnight.
func Dashboards(zone string) (map[string][]byte, error) {
	if zone == "" {
		zone = DefaultTimezone
	}
	d, err := newDay(zone)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, b := range map[string]*dashboard.DashboardBuilder{
		"wolkvox-chats.json":    chatsDashboard(d),
		"wolkvox-exporter.json": exporterDashboard(d),
	} {
		built, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(built); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	return out, nil
}

// base is what both dashboards share: the day, the refresh, and the links between
// them.
func base(d day, uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).Uid(uid).Description(description).Timezone(d.zone).
		Time("now-6h", "now").Refresh("1m").Editable().Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("Wolkvox dashboards").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"wolkvox"}).AsDropdown(false).IncludeVars(true).KeepTime(true).TargetBlank(false).Icon("external link").Tooltip("").Url(""))
}

func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus").
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: new("Prometheus")}, Value: dashboard.StringOrArrayOfString{String: new("prometheus")}})
}

// queryVariable is a multi-value variable of the values of a label, All by default.
func queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(datasource).
		Query(dashboard.StringOrMap{Map: map[string]any{"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"}}).
		Definition(query).Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*").
		Current(dashboard.VariableOption{Selected: new(true), Text: dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}}})
}

// operationVariable lists the operations that have metric.
func operationVariable(metric string) *dashboard.QueryVariableBuilder {
	return queryVariable("operation", "Operation", "label_values("+metric+", operation)").
		Description("Wolkvox operation (as named in the exporter config).")
}

// slThresholdVariable offers the answer-delay bucket bounds as service-level
// thresholds.
func slThresholdVariable() *dashboard.CustomVariableBuilder {
	values := "5,10,15,20,30,45,60,90,120,180,300"
	return dashboard.NewCustomVariableBuilder("sl_threshold").Label("SL threshold (s)").Values(dashboard.StringOrMap{String: new(values)}).
		Description("Service-level threshold in seconds; each option is a bucket bound of wolkvox_chat_answer_delay_seconds (change both if you change the buckets).").
		Current(dashboard.VariableOption{Selected: new(true), Text: dashboard.StringOrArrayOfString{String: new("20")}, Value: dashboard.StringOrArrayOfString{String: new("20")}})
}

// windowAutoCount and windowMin make the auto window: the range over this count,
// rounded as Grafana rounds intervals, and no shorter than windowMin: 1 hour up to a
// day, 6 hours at 7 days, 12 at 30. Over a week a window of an hour holds a few
// dozen chats at night, and a 99th percentile or a channel's share jumps from
// one point to the next; six hours hold hundreds.
const (
	windowAutoCount = 42
	windowMin       = "1h"
)

// windowVariable is the window rates and shares are taken over.
func windowVariable() *dashboard.IntervalVariableBuilder {
	return dashboard.NewIntervalVariableBuilder("window").Label("Window").
		Description("What each point of a rate or share is over. auto grows with the time range: a 42nd of it, rounded, at least an hour (1 hour up to a day, 6 hours at 7 days, 12 hours at 30 days).").
		Values(dashboard.StringOrMap{String: new("15m,30m,1h,3h,6h,12h,1d")}).Auto(true).StepCount(windowAutoCount).MinInterval(windowMin).
		Current(dashboard.VariableOption{Selected: new(true), Text: dashboard.StringOrArrayOfString{String: new("auto")}, Value: dashboard.StringOrArrayOfString{String: new("$__auto_interval_window")}})
}
