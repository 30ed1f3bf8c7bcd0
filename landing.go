package main

import (
	"bytes"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/logtime"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
)

// landingState is what the landing page tells beside its links: whether the
// exporter runs the demo, and each operation's state, as of the request.
var landingState = template.Must(template.New("state").Parse(`
{{- if .Demo}}<p><strong>Demo mode.</strong> The operation <code>demo</code> reads the embedded, simulated chat_1 API: no Wolkvox account is used.
{{.Demo}}</p>{{end}}
<h2>Operations</h2>
<table>
<tr><th>operation</th><th>API</th><th>last successful call</th><th>chats counted</th><th>no call before</th><th>open now</th></tr>
{{- range .Operations}}
<tr><td>{{.Name}}</td><td>{{if .Up}}up{{else if .Called}}<strong>down</strong>{{else}}no call yet{{end}}</td><td>{{.LastSuccess}}</td><td>{{.Chats}}</td><td>{{.BackoffUntil}}</td><td>{{.Now}}</td></tr>
{{- end}}
</table>
<p>The exporter calls the API only when <code>{{.MetricsPath}}</code> is scraped, at most once a <code>min_interval</code>; this is the state the last call left. Times are in this machine's time zone.</p>
`))

type landingOperation struct {
	Name                                  string
	Up, Called                            bool
	LastSuccess, Chats, BackoffUntil, Now string
}

// landingPage serves the toolkit's landing page with the exporter's state. demo
// describes the demo's traffic, "" outside demo mode.
func landingPage(base web.LandingConfig, coll *collector.Collector, metricsPath, demo string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := struct {
			Demo, MetricsPath string
			Operations        []landingOperation
		}{Demo: demo, MetricsPath: metricsPath}
		for _, st := range coll.Statuses() {
			data.Operations = append(data.Operations, landingRow(coll, st))
		}
		var extra bytes.Buffer
		if err := landingState.Execute(&extra, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cfg := base
		cfg.Links = append([]web.LandingLinks(nil), base.Links...) // the toolkit rewrites them
		cfg.ExtraHTML = extra.String()
		page, err := web.NewLandingPage(cfg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page.ServeHTTP(w, r)
	}
}

func landingRow(coll *collector.Collector, st poller.Status) landingOperation {
	row := landingOperation{Name: st.Config.Name, Up: st.Up, LastSuccess: "never", BackoffUntil: "-"}
	for _, n := range st.Requests {
		row.Called = row.Called || n > 0
	}
	if !st.LastSuccess.IsZero() {
		row.LastSuccess = logtime.Format(st.LastSuccess) + " (" + time.Since(st.LastSuccess).Round(time.Second).String() + " ago)"
	}
	if st.BackoffUntil.After(time.Now()) {
		row.BackoffUntil = logtime.Format(st.BackoffUntil)
	}
	row.Now = landingNow(coll.Now(st))
	shown, held := coll.Chats(st)
	row.Chats = strconv.FormatFloat(shown, 'f', -1, 64)
	if held > 0 {
		row.Chats += ", and " + strconv.FormatFloat(held, 'f', -1, 64) + " in label sets first seen lately, which /metrics shows at 0 until the new-series hold ends"
	}
	return row
}

// landingNow says what is open now, as /metrics shows it.
func landingNow(now collector.Now) string {
	if !now.Enabled {
		return "real-time calls off (realtime.interval)"
	}
	var parts []string
	if now.Open != nil {
		total := 0.0
		var channels []string
		for _, ch := range slices.Sorted(maps.Keys(now.Open.Channels)) {
			n := now.Open.Channels[ch].Open
			total += n
			channels = append(channels, ch+" "+strconv.FormatFloat(n, 'f', -1, 64))
		}
		parts = append(parts, strconv.FormatFloat(total, 'f', -1, 64)+" chats open ("+strings.Join(channels, ", ")+"), read "+ago(now.Open.At))
	}
	if now.Agents != nil {
		var statuses []string
		for _, st := range slices.Sorted(maps.Keys(now.Agents.Statuses)) {
			statuses = append(statuses, st+" "+strconv.FormatFloat(now.Agents.Statuses[st], 'f', -1, 64))
		}
		parts = append(parts, "agents: "+strings.Join(statuses, ", ")+", read "+ago(now.Agents.At))
	}
	if len(parts) == 0 {
		return "nothing read lately"
	}
	return strings.Join(parts, "; ")
}

func ago(t time.Time) string { return time.Since(t).Round(time.Second).String() + " ago" }
