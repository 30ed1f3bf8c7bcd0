package poller_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// startTime is 10:00 in Bogota.
var startTime = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)

// baseConfig is one operation polled every 5 minutes, re-reading 10 minutes; %s is
// the upstream's URL.
const baseConfig = `
operations:
  - name: main
    server: "0010"
    token: tok-poller-test
    base_url: %s
    min_interval: 5m
    overlap: 10m
    request_timeout: 10s
`

// realtimeConfig reads what is open now every 5 minutes too.
const realtimeConfig = baseConfig + `    agent_metrics: true
    realtime:
      interval: 5m
`

// call is one request the upstream received: its API, its window, and when it came
// by the test's clock.
type call struct {
	api      string
	from, to string // date_ini and date_end
	at       time.Time
}

// upstream is the simulator behind a recorder of calls, which a test may make
// answer in its stead.
type upstream struct {
	sim   *simulator.Server
	clock *testkit.Clock

	mu        sync.Mutex
	calls     []call
	intercept func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u.mu.Lock()
	u.calls = append(u.calls, call{q.Get("api"), q.Get("date_ini"), q.Get("date_end"), u.clock.Now()})
	intercept := u.intercept
	u.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	u.sim.ServeHTTP(w, r)
}

// setIntercept makes f answer requests first; nil lets the simulator answer all.
func (u *upstream) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.intercept = f
}

// of returns the calls of api so far.
func (u *upstream) of(api string) []call {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(u.calls), func(c call) bool { return c.api != api })
}

// count is how many calls came so far.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)
}

// rig is an Operation on a clock moved by hand, with a simulator on the same clock
// behind an httptest server, and settings built as the collector builds them.
type rig struct {
	t     *testing.T
	clock *testkit.Clock
	up    *upstream
	url   string
	cfg   string // the configuration, %s for the upstream's URL
	store *poller.Store
	logs  *testkit.SyncBuffer
	op    *poller.Operation
}

// newRig starts an operation configured by cfg on src, at startTime.
func newRig(t *testing.T, src simulator.Source, opts simulator.Options, cfg string, store *poller.Store) *rig {
	t.Helper()
	clock := testkit.NewClock(startTime)
	opts.Now = clock.Now
	r := &rig{t: t, clock: clock, up: &upstream{sim: simulator.NewServer(src, opts), clock: clock}, cfg: cfg, store: store, logs: &testkit.SyncBuffer{}}
	srv := httptest.NewServer(r.up)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	r.restart()
	return r
}

// settings are those of cfg, with a client of their own, as the collector builds them.
func (r *rig) settings(cfg string) *poller.Settings {
	r.t.Helper()
	c, err := config.Parse(fmt.Appendf(nil, cfg, r.url), ".")
	if err != nil {
		r.t.Fatal(err)
	}
	op := c.Operations[0]
	client, err := wolkvox.NewClient(wolkvox.OperationOptions(op))
	if err != nil {
		r.t.Fatal(err)
	}
	return &poller.Settings{Config: op, Tally: tally.SettingsOf(op, c.Histograms), Client: client}
}

// restart replaces the operation with a new one, as a restarted process would:
// only what the store saved carries over.
func (r *rig) restart() {
	r.t.Helper()
	r.op = poller.New(r.settings(r.cfg), r.clock.Now, log.NewLogfmtLogger(r.logs), r.store)
}

// refresh refreshes as a scrape does and waits for the calls it starts.
func (r *rig) refresh() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 30*time.Second)
	defer cancel()
	r.op.Refresh(ctx)
	if ctx.Err() != nil {
		r.t.Fatal("the refresh did not end in 30s")
	}
}

// pollUntil refreshes every step up to until, and calls between after each.
func (r *rig) pollUntil(until time.Time, step time.Duration, between func(now time.Time)) {
	r.t.Helper()
	for !r.clock.Now().After(until) {
		r.refresh()
		if between != nil {
			between(r.clock.Now())
		}
		r.clock.Advance(step)
	}
}

// chats is how many chats the operation counted.
func chats(st poller.Status) float64 {
	n := 0.0
	st.Tally.Each(tally.ChatsFamily, func(_ tally.Labels, c *tally.Cell, _ time.Time) { n += c.Sum })
	return n
}

// values is every chat series of a tally and its value (a histogram's count and
// sum), to compare tallies.
func values(tl *tally.Tally) map[string]string {
	out := map[string]string{}
	for _, f := range tl.Settings().Families() {
		tl.Each(f, func(labels tally.Labels, c *tally.Cell, born time.Time) {
			out[fmt.Sprint(f.Name, labels)] = fmt.Sprint(c.Count, c.Sum, c.Buckets, born.Unix())
		})
	}
	return out
}

// distinctServed is how many distinct chats the simulator served.
func (u *upstream) distinctServed() float64 {
	seen := map[string]bool{}
	for _, c := range u.sim.Served() {
		seen[c.ConnID] = true
	}
	return float64(len(seen))
}

// wire is t as date_ini and date_end write it, in loc.
func wire(t time.Time, loc *time.Location) string { return t.In(loc).Format(wolkvox.DateLayout) }

// chat is a closed chat of the simulator.
func chat(id string, closed time.Time) simulator.Chat {
	return simulator.Chat{
		ConnID: id, Channel: "WhatsApp", SkillID: "12", AgentID: "7", AgentName: "Luis",
		Opened: closed.Add(-10 * time.Minute), Closed: closed,
		AnswerDelay: 15 * time.Second, Duration: 10 * time.Minute, HandleTime: 8 * time.Minute,
		CustomerChars: 100, AgentChars: 200, AgentAnswers: 4,
		CodAct: "SALE", CodActDescription: "Sale closed", Feeling: "neutral", LastParticipant: "agent",
	}
}

// sources serves the chats of each of its sources.
type sources []simulator.Source

func (s sources) ChatsClosedBetween(from, to time.Time) []simulator.Chat {
	var out []simulator.Chat
	for _, src := range s {
		out = append(out, src.ChatsClosedBetween(from, to)...)
	}
	return out
}
