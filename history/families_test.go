package history_test

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/blocktest"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// familyShape is what a family is, whichever path wrote it.
type familyShape struct {
	kind   string // counter or histogram
	labels string // label names, sorted, without le
	bounds string // bucket bounds, for a histogram
}

// chatLabels are labels that only chat families carry: a family with one of them is
// a chat family, whatever defines it.
var chatLabels = []string{"channel", "agent_id"}

// liveFamilies counts chats through a collector and returns the chat families a
// scrape shows.
func liveFamilies(t *testing.T, cfgYAML string, chats simulator.Chats, at time.Time) map[string]familyShape {
	t.Helper()
	srv := httptest.NewServer(simulator.NewServer(chats, simulator.Options{Now: func() time.Time { return at }}))
	t.Cleanup(srv.Close)
	cfg, err := config.Parse(fmt.Appendf(nil, cfgYAML+"    base_url: %s\n", srv.URL), ".")
	if err != nil {
		t.Fatal(err)
	}
	c := collector.New(log.NewNopLogger(), collector.WithClock(func() time.Time { return at }))
	if err := c.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	c.Refresh(t.Context())
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]familyShape{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		var labels []string
		for _, lp := range m.GetLabel() {
			labels = append(labels, lp.GetName())
		}
		if !slices.ContainsFunc(chatLabels, func(l string) bool { return slices.Contains(labels, l) }) {
			continue
		}
		slices.Sort(labels)
		shape := familyShape{kind: strings.ToLower(mf.GetType().String()), labels: strings.Join(labels, ",")}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			var bounds []string
			for _, b := range m.GetHistogram().GetBucket() {
				bounds = append(bounds, fmt.Sprint(b.GetUpperBound()))
			}
			shape.bounds = strings.Join(bounds, ",")
		}
		out[mf.GetName()] = shape
	}
	return out
}

// historyFamilies writes the chats as a day of history to out and returns the
// families written, as Prometheus names them once ingested, as read reads them.
func historyFamilies(t *testing.T, cfgYAML string, chats simulator.Chats, day time.Time, out history.Output, read func() map[string]familyShape) map[string]familyShape {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgYAML), ".")
	if err != nil {
		t.Fatal(err)
	}
	w, err := history.New(cfg.Operations[0], cfg.Histograms, time.Hour, []history.Label{{Name: "job", Value: "wolkvox"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	d := w.Day(day, day.AddDate(0, 0, 1))
	for _, r := range records(t, chats) {
		d.Add(r)
	}
	if err := d.Write(); err != nil {
		t.Fatal(err)
	}
	return read()
}

// blockFamilies reads the families of the blocks in dir, leaving out the target
// labels named.
func blockFamilies(t *testing.T, dir string, target ...string) map[string]familyShape {
	t.Helper()
	out := map[string]familyShape{}
	for name, f := range blocktest.Families(t, dir, target...) {
		shape := familyShape{kind: "counter", labels: strings.Join(f.Labels, ",")}
		if f.Histogram {
			var values []string
			for _, v := range f.Bounds {
				values = append(values, fmt.Sprint(v))
			}
			shape.kind, shape.bounds = "histogram", strings.Join(values, ",")
		}
		out[name] = shape
	}
	return out
}

// openMetricsFamilies reads the families of OpenMetrics text, leaving out the
// target labels named.
func openMetricsFamilies(t *testing.T, text string, target ...string) map[string]familyShape {
	t.Helper()
	kinds := map[string]string{}
	labels := map[string]map[string]bool{}
	bounds := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if typ, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(typ, " ")
			if kind == "counter" {
				name += "_total"
			}
			kinds[name] = kind
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, rest, _ := strings.Cut(line, "{")
		pairs := rest[:strings.LastIndexByte(rest, '}')]
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(series, "_bucket"), "_count"), "_sum")
		if kinds[family] == "counter" {
			family = series
		}
		if labels[family] == nil {
			labels[family] = map[string]bool{}
		}
		for pair := range strings.SplitSeq(pairs, `",`) {
			name, value, _ := strings.Cut(pair, `="`)
			switch {
			case name == "le" && series == family+"_bucket":
				if v := strings.TrimSuffix(value, `"`); v != "+Inf" && !slices.Contains(bounds[family], v) {
					bounds[family] = append(bounds[family], v)
				}
			case !slices.Contains(target, name):
				labels[family][name] = true
			}
		}
	}
	out := map[string]familyShape{}
	for name, kind := range kinds {
		shape := familyShape{kind: kind, labels: strings.Join(slices.Sorted(maps.Keys(labels[name])), ",")}
		for _, b := range bounds[name] {
			var v float64
			fmt.Sscan(b, &v) //nolint:errcheck // a bad bound shows as 0 in the comparison
			shape.bounds += fmt.Sprint(v) + ","
		}
		shape.bounds = strings.TrimSuffix(shape.bounds, ",")
		out[name] = shape
	}
	return out
}

// records turns chats into records, as the API would serve them.
func records(t *testing.T, chats simulator.Chats) []*wolkvox.Record {
	t.Helper()
	var out []*wolkvox.Record
	srv := httptest.NewServer(simulator.NewServer(chats, simulator.Options{}))
	defer srv.Close()
	client, err := wolkvox.NewClient(wolkvox.Options{BaseURL: srv.URL, Token: "records-token", Location: bogota, MaxResponseSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	first := slices.MinFunc(chats, func(a, b simulator.Chat) int { return a.Closed.Compare(b.Closed) }).Closed
	last := slices.MaxFunc(chats, func(a, b simulator.Chat) int { return a.Closed.Compare(b.Closed) }).Closed
	if _, err := client.Chats(t.Context(), first.Add(-time.Minute), last.Add(time.Minute), func(r *wolkvox.Record) { out = append(out, r) }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(chats) {
		t.Fatalf("%d records served of %d chats", len(out), len(chats))
	}
	return out
}

// liveOnly are the families of what is open now: history has no past "now".
var liveOnly = []string{"wolkvox_chats_active", "wolkvox_chat_active_oldest_seconds", "wolkvox_agent_chats_active", "wolkvox_agents"}

// History writes the chat families that live counting exposes, with the same
// names, types, label names and buckets, as blocks and as text, with agent_metrics
// on and off: a family dropped from either path, or shaped otherwise, fails. The
// families of what is open now, which live counting shows beside them, are left
// out by name.
func TestHistoryFamiliesAreLiveFamilies(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, bogota)
	at := day.Add(10 * time.Hour)
	traffic := simulator.NewTraffic(3, 600)
	chats := traffic.ChatsClosedBetween(at.Add(-5*time.Minute), at)
	openNow := traffic.ChatsOpenAt(at) // closing after at: no chat_1 window returns them
	if !slices.ContainsFunc(chats, func(c simulator.Chat) bool { return c.CodAct == wolkvox.TimeoutCode }) ||
		!slices.ContainsFunc(chats, func(c simulator.Chat) bool { return c.CodAct != wolkvox.TimeoutCode }) {
		t.Fatal("the chats do not hold both timed-out and agent-closed ones")
	}
	outputs := map[string]func(t *testing.T) (history.Output, func() map[string]familyShape){
		"blocks": func(t *testing.T) (history.Output, func() map[string]familyShape) {
			t.Helper()
			dir := t.TempDir()
			return history.Blocks(dir, nil, nil), func() map[string]familyShape { return blockFamilies(t, dir, "job") }
		},
		"openmetrics": func(t *testing.T) (history.Output, func() map[string]familyShape) {
			t.Helper()
			var out bytes.Buffer
			return history.OpenMetrics(&out), func() map[string]familyShape { return openMetricsFamilies(t, out.String(), "job") }
		},
	}
	for _, agentMetrics := range []bool{false, true} {
		for format, open := range outputs {
			t.Run(fmt.Sprintf("%s/agent_metrics=%v", format, agentMetrics), func(t *testing.T) {
				cfgYAML := fmt.Sprintf("operations:\n  - name: main\n    server: \"0010\"\n    token: t\n    agent_metrics: %v\n", agentMetrics)
				live := liveFamilies(t, cfgYAML+"    realtime: {interval: 5m}\n", append(slices.Clone(chats), openNow...), at)
				if _, ok := live["wolkvox_chats_active"]; !ok {
					t.Fatal("live counting shows nothing open: the test would not see a family of what is open now written to history")
				}
				for _, name := range liveOnly {
					delete(live, name)
				}
				out, read := open(t)
				written := historyFamilies(t, cfgYAML, chats, day, out, read)
				for _, name := range slices.Sorted(maps.Keys(live)) {
					if got, ok := written[name]; !ok {
						t.Errorf("%s: live, not in history", name)
					} else if got != live[name] {
						t.Errorf("%s: history %+v, live %+v", name, got, live[name])
					}
				}
				for _, name := range slices.Sorted(maps.Keys(written)) {
					if _, ok := live[name]; !ok {
						t.Errorf("%s: in history, not live", name)
					}
				}
				agents := slices.ContainsFunc(slices.Collect(maps.Keys(live)), func(n string) bool { return strings.HasPrefix(n, "wolkvox_agent_") })
				if agents != agentMetrics {
					t.Errorf("agent families exposed: %v, with agent_metrics %v", agents, agentMetrics)
				}
				t.Logf("%d chat families in both", len(live))
			})
		}
	}
}
