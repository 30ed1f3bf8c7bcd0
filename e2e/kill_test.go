package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// windowLog records the windows an upstream is asked for.
type windowLog struct {
	next http.Handler
	mu   sync.Mutex
	from []string
	to   []string
}

func (w *windowLog) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.from = append(w.from, r.URL.Query().Get("date_ini"))
	w.to = append(w.to, r.URL.Query().Get("date_end"))
	w.mu.Unlock()
	w.next.ServeHTTP(rw, r)
}

func (w *windowLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for i := range w.from {
		fmt.Fprintf(&b, "[%s, %s] ", w.from[i], w.to[i])
	}
	return b.String()
}

func (w *windowLog) bounds() (first, last string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.from[0], w.to[len(w.to)-1]
}

// scrapeOnce is a scrape that reports a dead exporter as an error instead of
// failing. It waits for an API call at most 50ms (the timeout less the default
// 500ms offset), so scrapes also see the state while calls run.
func scrapeOnce(url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "0.55")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// durableSeries returns every counter and histogram count and sum the exporter
// saves, keyed by name and labels.
func durableSeries(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "wolkvox_") || strings.HasPrefix(name, "wolkvox_storage_") {
			continue // storage failures are this process's own
		}
		for _, m := range mf.GetMetric() {
			key := name + fmt.Sprint(labelsOf(m))
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[key+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// The exporter is killed with SIGKILL at random moments, mid-call and mid-save
// included, and restarted on the same --storage.path. No value it showed is ever
// lost, and at the end every count equals what the upstream served: each chat
// once, none missing.
func TestSIGKILLKeepsCountsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: kills and restarts the exporter 24 times, for some 20 s")
	}
	const kills = 24
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0)) //nolint:gosec // G404: a test's kill schedule, reproducible from the logged seed

	traffic := officeTraffic(int64(seed>>1), 3600)
	upstream := simulator.NewServer(traffic, simulator.Options{Token: e2eToken, Latency: 150 * time.Millisecond})
	windows := &windowLog{next: upstream}
	sim := httptest.NewServer(windows)
	defer sim.Close()
	dir, cfgPath := writeOperationConfig(t, sim.URL, "    agent_metrics: true\n")
	args := []string{"--config.file=" + cfgPath, "--storage.path=" + filepath.Join(dir, "state"), "--collector.new-series-hold=0"}

	shown := map[string]float64{} // the highest value each series has shown
	check := func(life int, mfs map[string]*dto.MetricFamily) {
		t.Helper()
		for k, v := range durableSeries(mfs) {
			if v < shown[k] {
				t.Fatalf("life %d: %s went back from %v to %v after a kill", life, k, shown[k], v)
			}
			shown[k] = v
		}
	}
	for life := range kills {
		e := startExporter(t, args...)
		calls := upstream.Requests()
		killed := make(chan struct{})
		var timer *time.Timer
		for {
			mfs, err := scrapeOnce(e.url)
			if err != nil {
				break
			}
			check(life, mfs)
			if timer == nil && upstream.Requests() > calls {
				// This life's first call has reached the API: kill at a random point
				// from within that call (it takes 150ms) to a second and more later.
				timer = time.AfterFunc(time.Duration(rng.IntN(1300))*time.Millisecond, func() {
					_ = e.cmd.Process.Kill()
					close(killed)
				})
			}
		}
		if timer == nil {
			t.Fatalf("life %d: the exporter stopped answering before its first call:\n%s", life, e.logs)
		}
		<-killed
		_ = e.cmd.Wait()
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "state")); err == nil {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Logf("state directory after the kills: %v", names)
	}

	// A last life, not killed: two more calls, then compare.
	e := startExporter(t, args...)
	calls := upstream.Requests()
	var mfs map[string]*dto.MetricFamily
	for upstream.Requests() < calls+2 {
		mfs = e.metrics(t) // each scrape after min_interval makes a call and waits for it
		check(kills, mfs)
	}
	if strings.Contains(e.logs.String(), "saved state not used") {
		t.Fatalf("a state file was unusable after a kill:\n%s", e.logs)
	}
	served := upstream.Served()
	want, got := servedByLabels(served, nil), countedByLabels(mfs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after %d kills:\ncounted %v\nserved  %v", kills, got, want)
	}

	// Nothing lost either: every chat that closed within the windows was served.
	first, last := windows.bounds()
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		t.Fatal(err)
	}
	from, _ := time.ParseInLocation("20060102150405", first, loc)
	to, _ := time.ParseInLocation("20060102150405", last, loc)
	closed := map[string]bool{}
	for _, c := range traffic.ChatsClosedBetween(from, to) {
		closed[c.ConnID] = true
	}
	distinct := map[string]bool{}
	for _, c := range served {
		distinct[c.ConnID] = true
	}
	if len(distinct) != len(closed) {
		var missing []string
		for _, c := range traffic.ChatsClosedBetween(from, to) {
			if !distinct[c.ConnID] {
				missing = append(missing, c.Closed.In(loc).Format("15:04:05"))
			}
		}
		t.Fatalf("%d distinct chats served, %d closed between %s and %s; never served: chats closed at %v\nwindows asked for: %s",
			len(distinct), len(closed), first, last, missing, windows)
	}

	// Every other chat counter matches the served chats too.
	wantDisp := map[string]float64{}
	wantAgents := map[string]float64{}
	seen := map[string]bool{}
	for _, c := range served {
		if seen[c.ConnID] {
			continue
		}
		seen[c.ConnID] = true
		wantDisp[c.CodAct]++
		wantAgents[c.AgentID]++
	}
	for _, cmp := range []struct {
		family, label string
		want          map[string]float64
	}{
		{"wolkvox_chat_dispositions_total", "code", wantDisp},
		{"wolkvox_agent_chats_total", "agent_id", wantAgents},
	} {
		gotBy := map[string]float64{}
		for _, m := range mfs[cmp.family].GetMetric() {
			gotBy[labelsOf(m)[cmp.label]] += m.GetCounter().GetValue()
		}
		if fmt.Sprint(sortedMap(gotBy)) != fmt.Sprint(sortedMap(cmp.want)) {
			t.Fatalf("%s by %s:\ncounted %v\nserved  %v", cmp.family, cmp.label, gotBy, cmp.want)
		}
	}
	var histCount uint64
	for _, m := range mfs["wolkvox_chat_answer_delay_seconds"].GetMetric() {
		histCount += m.GetHistogram().GetSampleCount()
	}
	if histCount != uint64(len(seen)) {
		t.Fatalf("answer delay histogram holds %d chats, served %d", histCount, len(seen))
	}
	t.Logf("%d kills, %d calls, %d chats served %d times", kills, upstream.Requests(), len(seen), len(served))
}

func sortedMap(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	sort.Strings(out)
	return out
}
