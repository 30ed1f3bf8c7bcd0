package backfill_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/wolkvox-exporter/wolkvox_exporter/backfill"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/blocktest"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

var bogota = func() *time.Location {
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		panic(err)
	}
	return loc
}()

// firstDay is the first of the days the tests backfill; now is two days after the last.
var firstDay = time.Date(2026, 11, 20, 0, 0, 0, 0, bogota)

// setup serves traffic as the API would, with opts, and returns an operation that
// reads it and options to backfill days from firstDay, as blocks, into a directory.
func setup(t *testing.T, traffic simulator.Source, opts simulator.Options, days int, extra string) (*simulator.Server, backfill.Options) {
	t.Helper()
	sim := simulator.NewServer(traffic, opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"0010\"\n    token: t\n    base_url: "+srv.URL+"\n"+extra), ".")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("backfill output:\n%s", out.String())
		}
	})
	return sim, backfill.Options{
		Operation: cfg.Operations[0], Histograms: cfg.Histograms,
		From: firstDay.Format(time.DateOnly), To: firstDay.AddDate(0, 0, days-1).Format(time.DateOnly),
		Output: filepath.Join(t.TempDir(), "history"), Step: time.Hour,
		Labels: []history.Label{{Name: "job", Value: "wolkvox"}},
		Now:    func() time.Time { return firstDay.AddDate(0, 0, days+2) },
		Out:    &out,
	}
}

// formats are the outputs a test runs with: blocks, and OpenMetrics text.
var formats = []struct {
	name   string
	output func(o *backfill.Options)
}{
	{backfill.FormatBlocks, func(*backfill.Options) {}},
	{backfill.FormatOpenMetrics, func(o *backfill.Options) {
		o.Format, o.Output = backfill.FormatOpenMetrics, filepath.Join(filepath.Dir(o.Output), "history.om")
	}},
}

// chatsAt reads the output: the sum of wolkvox_chats_total at each time, to the
// second, and checks that no sample is written twice.
func chatsAt(t *testing.T, o backfill.Options) map[int64]float64 {
	t.Helper()
	if o.Format == backfill.FormatOpenMetrics {
		return chatsAtInText(t, o.Output)
	}
	sums := map[int64]float64{}
	for _, s := range blocktest.Read(t, o.Output) { // blocks that overlap fail
		if s.Labels.Get(model.MetricNameLabel) != "wolkvox_chats_total" {
			continue
		}
		for i, p := range s.Points {
			if i > 0 && p.T <= s.Points[i-1].T {
				t.Fatalf("series %s goes from %d back to %d: a sample written twice", s.Labels, s.Points[i-1].T, p.T)
			}
			sums[p.T/1000] += p.V
		}
	}
	return sums
}

// chatsAtInText is chatsAt for OpenMetrics text, which must end with one # EOF.
func chatsAtInText(t *testing.T, path string) map[int64]float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n# EOF\n") || strings.Count(text, "# EOF") != 1 {
		t.Fatalf("the output does not end with one # EOF")
	}
	sums := map[int64]float64{}
	last := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		fields := strings.Fields(line[end+1:])
		if end < 0 || len(fields) != 2 || strings.Count(line, "{") != 1 {
			t.Fatalf("not a sample with a timestamp: %q", line)
		}
		at, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			t.Fatalf("bad timestamp: %q", line)
		}
		if prev, ok := last[line[:end]]; ok && at <= prev {
			t.Fatalf("series %s goes from %v back to %v: a sample written twice", line[:end], prev, at)
		}
		last[line[:end]] = at
		if strings.HasPrefix(line, "wolkvox_chats_total{") {
			v, _ := strconv.ParseFloat(fields[0], 64)
			sums[int64(at)] += v
		}
	}
	return sums
}

// closedOn counts the chats of traffic closed on each day from firstDay.
func closedOn(traffic simulator.Source, days int) []float64 {
	out := make([]float64, days)
	for d := range days {
		out[d] = float64(len(traffic.ChatsClosedBetween(firstDay.AddDate(0, 0, d), firstDay.AddDate(0, 0, d+1).Add(-time.Nanosecond))))
	}
	return out
}

// Each day's increase, last sample less first, is the chats the API serves as
// closed that day. The first day is read alone; days that fill at most half an
// answer are then read together, others one a call.
func TestBackfillCountsEachDay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		recordCap int // the days hold about 2,900 chats each
		calls     int
	}{
		{"days read together", 0, 2},
		{"a day a call", 5000, 3},
	} {
		for _, format := range formats {
			t.Run(tc.name+"/"+format.name, func(t *testing.T) {
				traffic := simulator.NewTraffic(3, 120)
				sim, o := setup(t, traffic, simulator.Options{RecordCap: tc.recordCap}, 3, "")
				format.output(&o)
				o.RecordCap = tc.recordCap
				sum, err := backfill.Run(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				if sum.Days != 3 || sum.Calls != tc.calls || sim.Requests() != tc.calls {
					t.Fatalf("%+v, %d requests: want 3 days in %d calls", sum, sim.Requests(), tc.calls)
				}
				at := chatsAt(t, o)
				for d, want := range closedOn(traffic, 3) {
					from, to := firstDay.AddDate(0, 0, d).Unix(), firstDay.AddDate(0, 0, d+1).Unix()
					if got := at[to] - at[from]; got != want {
						t.Errorf("day %d: %v chats, the API has %v", d, got, want)
					}
				}
				if format.name == backfill.FormatBlocks {
					if n := blocktest.Blocks(t, o.Output); n != 3 {
						t.Errorf("%d blocks, want one a day", n)
					}
				}
			})
		}
	}
}

// A run refuses, before any call, to make more calls than --max-calls; by default
// that is daily_quota less live polling's calls a day.
func TestBackfillCallBudget(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		days, max   int
		want        string
	}{
		{"max-calls", "", 5, 4, "5 day(s) may need 5 calls, more than --max-calls 4"},
		{"quota less live polling", "    min_interval: 90s\n    daily_quota: 964\n", 5, 0, "more than --max-calls 3 (daily_quota 964 less 961 a day for live polling)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, o := setup(t, simulator.NewTraffic(3, 60), simulator.Options{}, tc.days, tc.extra)
			o.MaxCalls = tc.max
			if _, err := backfill.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if sim.Requests() != 0 {
				t.Fatalf("%d calls made", sim.Requests())
			}
		})
	}
}

// After TOKEN LIMIT EXCEEDED a run stops, keeping the days it wrote; a run after
// the quota resets goes on from the next day, with no sample written twice.
func TestBackfillStopsAtTheQuotaAndGoesOn(t *testing.T) {
	for _, format := range formats {
		t.Run(format.name, func(t *testing.T) {
			traffic := simulator.NewTraffic(5, 120)
			quotaDay := testkit.NewClock(firstDay.AddDate(0, 0, 10))
			sim, o := setup(t, traffic, simulator.Options{DailyQuota: 2, Now: quotaDay.Now, RecordCap: 5000}, 4, "")
			format.output(&o)
			o.RecordCap = 5000 // a day a call: the days hold about 2,900 chats each
			_, err := backfill.Run(context.Background(), o)
			if !errors.Is(err, backfill.ErrStopped) || !strings.Contains(err.Error(), "quota_exceeded") {
				t.Fatalf("err %v, want a stop at the quota", err)
			}
			at := chatsAt(t, o) // whole, with the first two days
			want := closedOn(traffic, 4)
			if got := at[firstDay.AddDate(0, 0, 2).Unix()] - at[firstDay.Unix()]; got != want[0]+want[1] {
				t.Fatalf("the stopped run wrote %v chats for two days, want %v", got, want[0]+want[1])
			}
			quotaDay.Set(quotaDay.Now().AddDate(0, 0, 1))
			sum, err := backfill.Run(context.Background(), o)
			if err != nil || sum.Days != 2 {
				t.Fatalf("the second run: %+v, %v; want the 2 days left", sum, err)
			}
			at = chatsAt(t, o)
			for d := range 4 {
				from, to := firstDay.AddDate(0, 0, d).Unix(), firstDay.AddDate(0, 0, d+1).Unix()
				if got := at[to] - at[from]; got != want[d] {
					t.Errorf("day %d: %v chats, the API has %v", d, got, want[d])
				}
			}
			if sim.Requests() != 5 {
				t.Errorf("%d calls, want 2, the refused one, then 2", sim.Requests())
			}
			if sum, err := backfill.Run(context.Background(), o); err != nil || sum.Calls != 0 {
				t.Errorf("a third run: %+v, %v; want nothing to do", sum, err)
			}
		})
	}
}

// A run killed after writing a day, before saving its progress, left the day in
// the text twice over; the next run cuts it off, and writes the day once.
func TestBackfillCutsADayAKillLeftInTheText(t *testing.T) {
	traffic := simulator.NewTraffic(5, 120)
	_, o := setup(t, traffic, simulator.Options{}, 2, "")
	formats[1].output(&o)
	if _, err := backfill.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	twice := strings.TrimSuffix(string(data), "# EOF\n")
	twice += twice[strings.LastIndex(twice, "# HELP wolkvox_chats "):]
	if err := os.WriteFile(o.Output, []byte(twice), 0o600); err != nil {
		t.Fatal(err)
	}
	if sum, err := backfill.Run(context.Background(), o); err != nil || sum.Calls != 0 {
		t.Errorf("the next run: %+v, %v; want nothing to do", sum, err)
	}
	want := closedOn(traffic, 2)
	if at := chatsAt(t, o); at[firstDay.AddDate(0, 0, 2).Unix()]-at[firstDay.Unix()] != want[0]+want[1] {
		t.Error("the next run changed the counts")
	}
}

// A run killed after a day's block was in place, before saving its progress, or
// while a block was being written, left a block the next run would write again, and
// half a block; the next run removes both, and writes the day once.
func TestBackfillRemovesBlocksAKillLeft(t *testing.T) {
	traffic := simulator.NewTraffic(5, 120)
	_, o := setup(t, traffic, simulator.Options{}, 2, "")
	progress := filepath.Join(o.Output, "wolkvox-backfill-progress.json")
	oneDay := o
	oneDay.To = o.From
	if _, err := backfill.Run(context.Background(), oneDay); err != nil {
		t.Fatal(err)
	}
	afterDay1, err := os.ReadFile(progress)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backfill.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// The kill: day 2's block is in place, the progress still says day 1.
	if err := os.WriteFile(progress, afterDay1, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(o.Output, "01KB2ZQ4TN5RPSB5N9S5J9Q9QB.tmp-for-creation"), 0o700); err != nil {
		t.Fatal(err)
	}
	sum, err := backfill.Run(context.Background(), o)
	if err != nil || sum.Days != 1 {
		t.Fatalf("the next run: %+v, %v; want day 2 again", sum, err)
	}
	if n := blocktest.Blocks(t, o.Output); n != 2 {
		t.Errorf("%d blocks, want one a day", n)
	}
	if left, _ := filepath.Glob(filepath.Join(o.Output, "*.tmp-for-creation")); len(left) != 0 {
		t.Errorf("half-written blocks left: %v", left)
	}
	at, want := chatsAt(t, o), closedOn(traffic, 2) // blocks that overlap fail
	for d := range 2 {
		from, to := firstDay.AddDate(0, 0, d).Unix(), firstDay.AddDate(0, 0, d+1).Unix()
		if got := at[to] - at[from]; got != want[d] {
			t.Errorf("day %d: %v chats, the API has %v", d, got, want[d])
		}
	}
}

// With the live exporter's state, the history ends where live counting began; a
// --to after that day is refused.
func TestBackfillJoinsLiveCounting(t *testing.T) {
	for _, format := range formats {
		t.Run(format.name, func(t *testing.T) {
			traffic := simulator.NewTraffic(5, 120)
			_, o := setup(t, traffic, simulator.Options{}, 3, "")
			format.output(&o)
			o.StoragePath = t.TempDir()
			since := firstDay.AddDate(0, 0, 2).Add(14*time.Hour + 30*time.Minute)
			state := fmt.Sprintf(`{"version":1,"operation":"main","upstream":"server 0010","counting_since":%d}`, since.Unix())
			if err := os.WriteFile(filepath.Join(o.StoragePath, "main.json"), []byte(state), 0o600); err != nil {
				t.Fatal(err)
			}
			late := o
			late.To = firstDay.AddDate(0, 0, 3).Format(time.DateOnly)
			if _, err := backfill.Run(context.Background(), late); err == nil || !strings.Contains(err.Error(), "overlaps live counting") ||
				!strings.Contains(err.Error(), "2026-11-22 (up to where live counting began)") {
				t.Fatalf("err %v, want --to refused, naming the last day", err)
			}
			if _, err := backfill.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			at := chatsAt(t, o)
			want := float64(len(traffic.ChatsClosedBetween(firstDay, since.Add(-time.Nanosecond))))
			if got := at[since.Unix()] - at[firstDay.Unix()]; got != want {
				t.Errorf("%v chats up to where live counting began, the API has %v", got, want)
			}
			if _, ok := at[firstDay.AddDate(0, 0, 3).Unix()]; ok {
				t.Error("the history goes past where live counting began")
			}
		})
	}
}

// Before live counting has begun, with its --storage.path: a history up to today
// ends overlap before now, and one that ends within max_catchup leaves the state
// live counting goes on from, with the cursor where the history ends. An older
// history, or a dry run, leaves none; without --storage.path, today is refused.
func TestBackfillBeforeLiveCountingBegins(t *testing.T) {
	now := firstDay.AddDate(0, 0, 2).Add(14*time.Hour + 30*time.Minute)
	for _, tc := range []struct {
		name     string
		to       time.Time
		storage  bool
		dryRun   bool
		wantEnd  time.Time // zero: refused
		wantSeed bool
		wantOut  string
	}{
		{"up to today", now, true, false, now.Add(-10 * time.Minute), true, "where live counting will begin"},
		{"up to yesterday, within max_catchup", now.AddDate(0, 0, -1), true, false, firstDay.AddDate(0, 0, 2), true, "where live counting will begin"},
		{"older than max_catchup", firstDay, true, false, firstDay.AddDate(0, 0, 1), false, "the exporter will count from its first start, from zero"},
		{"dry run", now, true, true, time.Time{}, false, "dry run"},
		{"today without --storage.path", now, false, false, time.Time{}, false, "is today, which is not over: backfill whole past days, or, before the exporter's first start, pass its --storage.path"},
		{"tomorrow", now.AddDate(0, 0, 1), true, false, time.Time{}, false, "is after today, 2026-11-22"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			traffic := simulator.NewTraffic(5, 120)
			_, o := setup(t, traffic, simulator.Options{}, 1, "    overlap: 10m\n    max_catchup: 24h\n")
			var out strings.Builder
			o.Out, o.DryRun, o.To, o.Now = &out, tc.dryRun, tc.to.Format(time.DateOnly), func() time.Time { return now }
			if tc.storage {
				o.StoragePath = filepath.Join(t.TempDir(), "state")
			}
			_, err := backfill.Run(context.Background(), o)
			switch {
			case tc.wantEnd.IsZero() && !tc.dryRun:
				if err == nil || !strings.Contains(err.Error(), tc.wantOut) {
					t.Fatalf("err %v, want it refused: %q", err, tc.wantOut)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("the output does not say %q:\n%s", tc.wantOut, out.String())
			}
			state, err := os.ReadFile(filepath.Join(o.StoragePath, "main.json"))
			if seeded := err == nil; seeded != tc.wantSeed {
				t.Fatalf("state written: %v, want %v (%v)", seeded, tc.wantSeed, err)
			}
			if tc.dryRun {
				return
			}
			at := chatsAt(t, o)
			want := float64(len(traffic.ChatsClosedBetween(firstDay, tc.wantEnd.Add(-time.Nanosecond))))
			if got := at[tc.wantEnd.Unix()]; got != want {
				t.Errorf("%v chats where the history ends, at %s (%v); the API has %v", got, tc.wantEnd, at, want)
			}
			if !tc.wantSeed {
				return
			}
			var f struct {
				Cursor        int64                      `json:"cursor"`
				CountingSince int64                      `json:"counting_since"`
				Series        map[string]json.RawMessage `json:"series"`
			}
			if err := json.Unmarshal(state, &f); err != nil {
				t.Fatal(err)
			}
			if f.Cursor != tc.wantEnd.Unix() || f.CountingSince != tc.wantEnd.Unix() || len(f.Series["chats"]) < 10 {
				t.Errorf("the state's cursor %d, counting_since %d, want %d, with the history's counts:\n%s", f.Cursor, f.CountingSince, tc.wantEnd.Unix(), state)
			}
			// The same command again reads nothing, and says the live counters went on
			// from the history's counts rather than restarting.
			out.Reset()
			if _, err := backfill.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if want := "went on from this history's counts"; !strings.Contains(out.String(), want) || strings.Contains(out.String(), "restart from zero") {
				t.Errorf("run again, the backfill does not say %q, or speaks of a restart:\n%s", want, out.String())
			}
		})
	}
}

// An output that exists without the progress of a run is not written over: a file,
// or a directory with anything in it.
func TestBackfillKeepsAForeignOutput(t *testing.T) {
	for _, format := range formats {
		t.Run(format.name, func(t *testing.T) {
			sim, o := setup(t, simulator.NewTraffic(5, 60), simulator.Options{}, 1, "")
			format.output(&o)
			precious := o.Output
			if format.name == backfill.FormatBlocks {
				if err := os.Mkdir(o.Output, 0o700); err != nil {
					t.Fatal(err)
				}
				precious = filepath.Join(o.Output, "precious")
			}
			if err := os.WriteFile(precious, []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := backfill.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "remove it or choose another --output") {
				t.Fatalf("err %v", err)
			}
			if data, _ := os.ReadFile(precious); string(data) != "precious\n" || sim.Requests() != 0 {
				t.Fatalf("the output was touched, or calls were made")
			}
		})
	}
}

// A day over the record cap is read in halves, each chat counted once.
func TestBackfillSplitsADayOverTheCap(t *testing.T) {
	traffic := simulator.NewTraffic(7, 120)
	want := closedOn(traffic, 2)
	sim, o := setup(t, traffic, simulator.Options{RecordCap: int(want[0]+want[1]) / 5}, 2, "")
	o.RecordCap = int(want[0]+want[1]) / 5
	sum, err := backfill.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Calls <= 2*3 || sim.Requests() != sum.Calls {
		t.Errorf("%d calls (%d requests) for two days over the cap: want each split", sum.Calls, sim.Requests())
	}
	at := chatsAt(t, o)
	for d := range 2 {
		from, to := firstDay.AddDate(0, 0, d).Unix(), firstDay.AddDate(0, 0, d+1).Unix()
		if got := at[to] - at[from]; got != want[d] {
			t.Errorf("day %d: %v chats, the API has %v", d, got, want[d])
		}
	}
}

// refuseFirst answers the first call as the API answers a third simultaneous one.
type refuseFirst struct {
	once sync.Once
	next http.RoundTripper
}

func (r *refuseFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	refused := false
	r.once.Do(func() { refused = true })
	if !refused {
		return r.next.RoundTrip(req)
	}
	body := `{"code": 403, "error": "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"}`
	return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// Another client of the token calling at the same time does not stop the run: the
// day is read again once that call is over.
func TestBackfillWaitsForAnotherClientOfTheToken(t *testing.T) {
	traffic := simulator.NewTraffic(9, 60)
	_, o := setup(t, traffic, simulator.Options{}, 1, "    request_timeout: 20s\n")
	o.Transport = &refuseFirst{next: http.DefaultTransport}
	var waited []time.Duration
	o.After = func(d time.Duration) <-chan time.Time {
		waited = append(waited, d)
		now := make(chan time.Time, 1)
		now <- time.Time{}
		return now
	}
	sum, err := backfill.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(waited) != "[20s]" {
		t.Errorf("waited %v, want once for request_timeout, 20s, within which the other call ends", waited)
	}
	if sum.Calls != 2 {
		t.Errorf("%d calls, want the refused one and one more", sum.Calls)
	}
	at := chatsAt(t, o)
	if got, want := at[firstDay.AddDate(0, 0, 1).Unix()]-at[firstDay.Unix()], closedOn(traffic, 1)[0]; got != want {
		t.Errorf("%v chats, the API has %v", got, want)
	}
}

// A run goes on with an output only under the options that began it.
func TestBackfillGoesOnOnlyWithTheSameOptions(t *testing.T) {
	const other = "go on with the same --format, --operation, --from, --step and --label"
	for _, tc := range []struct {
		name   string
		change func(*backfill.Options)
		want   string
	}{
		{"another step", func(o *backfill.Options) { o.Step = 5 * time.Minute }, other},
		{"another label", func(o *backfill.Options) { o.Labels = []history.Label{{Name: "job", Value: "other"}} }, other},
		{"another first day", func(o *backfill.Options) { o.From = firstDay.AddDate(0, 0, -1).Format(time.DateOnly) }, other},
		{"text into the blocks' directory", func(o *backfill.Options) { o.Format = backfill.FormatOpenMetrics }, "holds no history this command can go on with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, o := setup(t, simulator.NewTraffic(5, 60), simulator.Options{}, 2, "")
			first := o
			first.To = o.From
			if _, err := backfill.Run(context.Background(), first); err != nil {
				t.Fatal(err)
			}
			before, calls := treeState(t, o.Output), sim.Requests()
			tc.change(&o)
			if _, err := backfill.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v", err)
			}
			if treeState(t, o.Output) != before || sim.Requests() != calls {
				t.Error("the output was touched, or calls were made")
			}
		})
	}
}

// --max-calls=0 is a dry run: the plan is printed, no call is made, nothing written.
func TestBackfillDryRun(t *testing.T) {
	sim, o := setup(t, simulator.NewTraffic(5, 60), simulator.Options{}, 3, "")
	var out strings.Builder
	o.Out, o.DryRun = &out, true
	sum, err := backfill.Run(context.Background(), o)
	if err != nil || sum.Calls != 0 || sim.Requests() != 0 {
		t.Fatalf("%+v, %v, %d requests: want no call", sum, err, sim.Requests())
	}
	if _, err := os.Stat(o.Output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run made %s (%v)", o.Output, err)
	}
	for _, want := range []string{"3 day(s) from 2026-11-20", "the history ends at 2026-11-23T00:00:00-05:00", "calls: at most 3", "dry run (--max-calls=0): no call made, nothing written"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the plan does not say %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "allowed (--max-calls)") {
		t.Errorf("the dry run speaks of calls allowed by --max-calls, which is 0:\n%s", out.String())
	}
}

// History without the job and instance of the live scrape makes series of its own:
// the run warns, naming what to pass; with both, it does not.
func TestBackfillWarnsOfMissingTargetLabels(t *testing.T) {
	for _, tc := range []struct {
		labels []history.Label
		want   string // "" for no warning
	}{
		{nil, "no --label for job or instance"},
		{[]history.Label{{Name: "job", Value: "wolkvox"}}, "no --label for instance"},
		{[]history.Label{{Name: "job", Value: "wolkvox"}, {Name: "instance", Value: "host:19655"}}, ""},
	} {
		_, o := setup(t, simulator.NewTraffic(5, 60), simulator.Options{}, 1, "")
		var out strings.Builder
		o.Out, o.DryRun, o.Labels = &out, true, tc.labels
		if _, err := backfill.Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(out.String(), "warning:")
		if tc.want == "" && warned || tc.want != "" && (!strings.Contains(out.String(), tc.want) || !strings.Contains(out.String(), "--label job=wolkvox --label instance=")) {
			t.Errorf("labels %v: %q", tc.labels, out.String())
		}
	}
}

// An output named as a file of text, with no format said, is refused before any
// call: blocks go to a directory.
func TestBackfillRefusesATextNameForBlocks(t *testing.T) {
	sim, o := setup(t, simulator.NewTraffic(5, 60), simulator.Options{}, 1, "")
	o.Output += ".om"
	if _, err := backfill.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--format=openmetrics") {
		t.Fatalf("err %v, want a refusal naming --format=openmetrics", err)
	}
	if sim.Requests() != 0 {
		t.Fatal("a call was made")
	}
	o.Format = backfill.FormatOpenMetrics
	if _, err := backfill.Run(context.Background(), o); err != nil {
		t.Fatalf("with --format=openmetrics: %v", err)
	}
}

// Where the live exporter's state says counters will start from 0 just after the
// history ends, the backfill warns that the per-day difference of that day is not
// exact: live counting that began there without the history's counts, or, where it
// began later, whatever Prometheus holds after the history (another run's days).
// A history that live counting goes on from, or one with no state to compare,
// draws no warning.
func TestBackfillWarnsOfARestartAtItsEnd(t *testing.T) {
	const warning = "starts its counters from 0 there: that day's count by the counters' difference between midnights is then not exact"
	liveSince := firstDay.AddDate(0, 0, 2).Add(14*time.Hour + 30*time.Minute)
	for _, tc := range []struct {
		name     string
		to       time.Time
		state    bool // live counting began at liveSince
		storage  bool
		wantWarn string // "" for none
	}{
		{"ends where live counting began", firstDay.AddDate(0, 0, 2), true, true, "and live counting, which began there without this history's counts, starts"},
		{"ends before live counting began", firstDay, true, true, "(another backfill's days; live counting began only at 2026-11-22T14:30:00-05:00) starts"},
		{"no live state, an old history", firstDay, false, true, ""},
		{"no live state: live counting will go on from the history", firstDay.AddDate(0, 0, 2), false, true, ""},
		{"no --storage.path", firstDay, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := setup(t, simulator.NewTraffic(5, 60), simulator.Options{}, 1, "")
			var out strings.Builder
			o.Out, o.To = &out, tc.to.Format(time.DateOnly)
			if tc.storage {
				o.StoragePath = t.TempDir()
			}
			if tc.state {
				state := fmt.Sprintf(`{"version":1,"operation":"main","upstream":"server 0010","counting_since":%d}`, liveSince.Unix())
				if err := os.WriteFile(filepath.Join(o.StoragePath, "main.json"), []byte(state), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := backfill.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(out.String(), warning)
			if warned != (tc.wantWarn != "") || warned && !strings.Contains(out.String(), tc.wantWarn) {
				t.Errorf("warned %v, want %q:\n%s", warned, tc.wantWarn, out.String())
			}
			// Run again, the history written: the warning stands, or is still absent.
			out.Reset()
			if _, err := backfill.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if again := strings.Contains(out.String(), warning); again != warned {
				t.Errorf("run again: warned %v, first %v:\n%s", again, warned, out.String())
			}
		})
	}
}
