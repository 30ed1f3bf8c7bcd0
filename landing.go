package main

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
)

// statusPath serves each operation's state now, which the landing page shows.
const statusPath = "/status"

// landing is the landing page, built by the exporter-toolkit when the
// configuration is loaded and again at each reload: its links, whether it runs the
// demo, the operations configured, and, in a frame, each one's state now.
type landing struct {
	metricsPath, demo string
	page              atomic.Pointer[web.LandingPageHandler]
}

func newLanding(metricsPath, demo string, cfg *config.Config) (*landing, error) {
	l := &landing{metricsPath: metricsPath, demo: demo}
	return l, l.build(cfg)
}

// build makes the page for the configuration cfg.
func (l *landing) build(cfg *config.Config) error {
	var extra bytes.Buffer
	if err := landingOperations.Execute(&extra, struct {
		Demo, StatusPath string
		Operations       []config.Operation
	}{l.demo, statusPath, cfg.Operations}); err != nil {
		return err
	}
	page, err := web.NewLandingPage(web.LandingConfig{
		Name:        "Wolkvox Exporter",
		Description: "Prometheus exporter for Wolkvox chat operations (chat_1 report and real-time APIs)",
		Version:     version.Info(),
		Profiling:   "false", // no pprof handlers are served
		Links: []web.LandingLinks{
			{Address: l.metricsPath, Text: "Metrics"},
			{Address: statusPath, Text: "Status", Description: "each operation's state now"},
			{Address: "/config", Text: "Configuration", Description: "in force, tokens redacted"},
			{Address: "/-/healthy", Text: "Health"},
		},
		ExtraHTML: extra.String(),
		ExtraCSS:  "iframe.status { width: 100%; height: 16em; border: 0; }",
	})
	if err != nil {
		return fmt.Errorf("build the landing page: %w", err)
	}
	l.page.Store(page)
	return nil
}

func (l *landing) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.page.Load().ServeHTTP(w, r) }

// landingOperations is what the landing page tells beside its links.
var landingOperations = template.Must(template.New("operations").Parse(`
{{- if .Demo}}<p><strong>Demo mode.</strong> The operation <code>demo</code> reads the embedded, simulated Wolkvox APIs: no Wolkvox account is used.
{{.Demo}}</p>{{end}}
<h2>Operations</h2>
<ul>
{{- range .Operations}}
<li><code>{{.Name}}</code>: {{.URL}}, at most one chat_1 call every {{.MinInterval}}{{if .Realtime.Enabled}}, and one of each real-time API every {{.Realtime.Interval}}{{end}}</li>
{{- end}}
</ul>
<iframe class="status" src="{{.StatusPath}}" title="Each operation's state now"></iframe>
`))

// statusPage is the state of each operation now, as the last calls left it.
var statusPage = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>Wolkvox Exporter: state now</title>
<style>body { font-family: sans-serif; } table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }</style>
</head><body>
<table>
<tr><th>operation</th><th>API</th><th>last successful call</th><th>chats counted</th><th>chat_1 calls paused until</th><th>open now</th></tr>
{{- range .Operations}}
<tr><td>{{.Name}}</td><td>{{if .Up}}up{{else if .Called}}<strong>down</strong>{{else}}no call yet{{end}}</td><td>{{.LastSuccess}}</td><td>{{.Chats}}</td><td>{{.BackoffUntil}}</td><td>{{.Now}}</td></tr>
{{- end}}
</table>
<p>The exporter calls the API only when <code>{{.MetricsPath}}</code> is scraped, at most once a <code>min_interval</code>; this is the state the last call left.
After a failed or refused chat_1 call it pauses those calls: longer after each failure in a row, or until midnight once the token's daily quota is spent.
Times are in each operation's time zone.</p>
</body></html>
`))

type landingOperation struct {
	Name                                  string
	Up, Called                            bool
	LastSuccess, Chats, BackoffUntil, Now string
}

// status serves each operation's state, as of the request.
func status(coll *collector.Collector, metricsPath string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		data := struct {
			MetricsPath string
			Operations  []landingOperation
		}{MetricsPath: metricsPath}
		for _, st := range coll.Statuses() {
			data.Operations = append(data.Operations, landingRow(coll, st))
		}
		var page bytes.Buffer
		if err := statusPage.Execute(&page, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page.Bytes())
	}
}

func landingRow(coll *collector.Collector, st poller.Status) landingOperation {
	row := landingOperation{Name: st.Config.Name, Up: st.Up, LastSuccess: "never", BackoffUntil: "not paused"}
	for _, n := range st.Requests {
		row.Called = row.Called || n > 0
	}
	local := func(t time.Time) string {
		return t.In(st.Config.Location()).Format(time.DateTime) + " " + st.Config.Location().String()
	}
	if !st.LastSuccess.IsZero() {
		row.LastSuccess = local(st.LastSuccess) + " (" + ago(st.LastSuccess) + ")"
	}
	if st.BackoffUntil.After(time.Now()) {
		row.BackoffUntil = local(st.BackoffUntil) + " (in " + time.Until(st.BackoffUntil).Round(time.Second).String() + ")"
	}
	row.Now = landingNow(coll.Now(st))
	shown, held := coll.Chats(st)
	row.Chats = strconv.FormatFloat(shown, 'f', -1, 64)
	if held > 0 {
		row.Chats += ", and " + strconv.FormatFloat(held, 'f', -1, 64) +
			" more soon: a channel, skill or other label value new to /metrics shows 0 at first (for --collector.new-series-hold, 1m by default), so that Prometheus counts its chats from 0"
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
