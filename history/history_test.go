package history_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/blocktest"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// point is one sample of a series: value at a Unix time, in seconds.
type point struct {
	at    int64
	value float64
}

// canon writes a series as labels.Labels does, whatever order its text has its
// labels in: name{a="1",b="2"}. The tests' values hold no commas or quotes.
func canon(series string) string {
	name, rest, _ := strings.Cut(series, "{")
	pairs := []string{model.MetricNameLabel, name}
	for pair := range strings.SplitSeq(strings.TrimSuffix(rest, "}"), ",") {
		k, v, _ := strings.Cut(pair, "=")
		pairs = append(pairs, k, strings.Trim(v, `"`))
	}
	return labels.FromStrings(pairs...).String()
}

// readOpenMetrics reads the samples of an exposition with timestamps, by series,
// and the family headers in order.
func readOpenMetrics(t *testing.T, text string) (map[string][]point, []string) {
	t.Helper()
	series := map[string][]point{}
	var headers []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if family, ok := strings.CutPrefix(line, "# TYPE "); ok {
			headers = append(headers, family)
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		fields := strings.Fields(line[end+1:])
		if end < 0 || len(fields) != 2 {
			t.Fatalf("not a sample with a timestamp: %q", line)
		}
		v, err1 := strconv.ParseFloat(fields[0], 64)
		at, err2 := strconv.ParseFloat(fields[1], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad sample %q", line)
		}
		key := canon(line[:end+1])
		series[key] = append(series[key], point{int64(at), v})
	}
	return series, headers
}

// readBlocks reads every sample of the blocks in dir, by series.
func readBlocks(t *testing.T, dir string) map[string][]point {
	t.Helper()
	series := map[string][]point{}
	for key, s := range blocktest.Read(t, dir) {
		for _, p := range s.Points {
			series[key] = append(series[key], point{p.T / 1000, p.V})
		}
	}
	return series
}

// formats writes history to each output, and reads it back after write is done.
var formats = []struct {
	name string
	open func(t *testing.T) (history.Output, func() map[string][]point)
}{
	{"openmetrics", func(t *testing.T) (history.Output, func() map[string][]point) {
		t.Helper()
		var out bytes.Buffer
		return history.OpenMetrics(&out), func() map[string][]point {
			series, _ := readOpenMetrics(t, out.String())
			return series
		}
	}},
	{"blocks", func(t *testing.T) (history.Output, func() map[string][]point) {
		t.Helper()
		dir := t.TempDir()
		return history.Blocks(dir, nil, nil), func() map[string][]point { return readBlocks(t, dir) }
	}},
}

func historyRecord(id, channel, date, duration string) *wolkvox.Record {
	d, err := wolkvox.ParseSeconds(duration)
	return &wolkvox.Record{
		ConnID: id, Channel: channel, SkillID: "12", Feeling: "neutral", LastParticipant: "agent",
		CodAct: "SALE", CodActDescription: "Sale closed", Date: date,
		AnswerDelay: wolkvox.Number{Value: 15}, Duration: wolkvox.Number{Value: d, Err: err}, HandleTime: wolkvox.Number{Value: 60},
		CustomerChars: wolkvox.Number{Value: 100}, AgentChars: wolkvox.Number{Value: 200}, AgentAnswers: wolkvox.Number{Value: 4},
	}
}

// Chats count at their close time, date plus chat_duration; one whose close time is
// unknown or outside its day counts at the day's end. Counters continue from day to
// day, and a series first seen on a later day starts from 0 at that day's start.
func TestHistoryPlacesChatsAtTheirCloseTime(t *testing.T) {
	for _, format := range formats {
		t.Run(format.name, func(t *testing.T) {
			out, read := format.open(t)
			placesChatsAtTheirCloseTime(t, out, read)
		})
	}
}

func placesChatsAtTheirCloseTime(t *testing.T, out history.Output, read func() map[string][]point) {
	t.Helper()
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"1\"\n    token: t\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.New(cfg.Operations[0], cfg.Histograms, time.Hour, []history.Label{{"job", "wolkvox"}, {"instance", "host:19655"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 20, 0, 0, 0, 0, bogota)
	day2, day3 := day1.AddDate(0, 0, 1), day1.AddDate(0, 0, 2)

	d := h.Day(day1, day2)
	d.Add(historyRecord("a", "whatsapp", "2026-11-20 08:10:00", "00:30:00"))      // closes 08:40: counts from the 09:00 sample
	d.Add(historyRecord("b", "whatsapp", "2026-11-20 08:50:00", "600"))           // closes 09:00: from the 10:00 sample
	d.Add(historyRecord("b", "whatsapp", "2026-11-20 08:50:00", "600"))           // the same chat again: once
	timedOut := historyRecord("c", "whatsapp", "2026-11-19 23:00:00", "23:30:00") // opened the day before, closes 22:30
	timedOut.CodAct = "TIMEOUTCHAT"
	d.Add(timedOut)
	d.Add(historyRecord("x", "whatsapp", "not a date", "60"))          // at the day's end
	d.Add(historyRecord("y", "whatsapp", "2026-11-21 01:00:00", "60")) // closes the next day: at the day's end
	if err := d.Write(); err != nil {
		t.Fatal(err)
	}
	if d.Chats != 5 || d.AtDayEnd != 2 {
		t.Fatalf("day 1: %d chats, %d at the day's end; want 5 and 2", d.Chats, d.AtDayEnd)
	}
	d = h.Day(day2, day3)
	d.Add(historyRecord("w", "web", "2026-11-21 05:00:00", "1800")) // a new series: closes 05:30
	if err := d.Write(); err != nil {
		t.Fatal(err)
	}

	series := read()
	whatsapp := canon(`wolkvox_chats_total{operation="main",channel="whatsapp",skill="12",feeling="neutral",last_participant="agent",job="wolkvox",instance="host:19655"}`)
	web := strings.Replace(whatsapp, "whatsapp", "web", 1)
	at := func(day time.Time, hour int) int64 { return day.Add(time.Duration(hour) * time.Hour).Unix() }
	want := map[int64]float64{at(day1, 0): 0, at(day1, 8): 0, at(day1, 9): 1, at(day1, 10): 2, at(day1, 22): 2, at(day1, 23): 3,
		at(day2, 0): 5, at(day2, 23): 5, at(day3, 0): 5}
	got := map[int64]float64{}
	for _, p := range series[whatsapp] {
		got[p.at] = p.value
	}
	// No time is written twice: a day's end is the next day's start.
	for name, pts := range series {
		for i := 1; i < len(pts); i++ {
			if pts[i].at <= pts[i-1].at {
				t.Fatalf("%s: sample at %d after one at %d", name, pts[i].at, pts[i-1].at)
			}
		}
	}
	if len(series[whatsapp]) != 49 {
		t.Errorf("%d samples of whatsapp, want 24 a day and one at the end", len(series[whatsapp]))
	}
	for ts, v := range want {
		if got[ts] != v {
			t.Errorf("whatsapp at %s = %v, want %v", time.Unix(ts, 0).In(bogota).Format(time.DateTime), got[ts], v)
		}
	}
	if pts := series[web]; len(pts) != 25 || pts[0] != (point{at(day2, 0), 0}) || pts[5].value != 0 || pts[6].value != 1 || pts[24] != (point{at(day3, 0), 1}) {
		t.Errorf("web, first seen on day 2: %v", pts)
	}
	// The histogram counts chats with an answer delay; its buckets are cumulative, le as 20.0.
	bucket := canon(`wolkvox_chat_answer_delay_seconds_bucket{operation="main",channel="whatsapp",skill="12",job="wolkvox",instance="host:19655",le="20.0"}`)
	if pts := series[bucket]; len(pts) != 49 || pts[48].value != 5 {
		t.Errorf("answer delay bucket le=20.0: %d samples, last %v; want 49, 5", len(pts), pts[len(pts)-1])
	}
	sum := canon(`wolkvox_chat_answer_delay_seconds_sum{operation="main",channel="whatsapp",skill="12",job="wolkvox",instance="host:19655"}`)
	if pts := series[sum]; pts[48].value != 75 {
		t.Errorf("answer delay sum at the end %v, want 5 x 15", pts[48].value)
	}
	// The duration of a chat closed by timeout is apart.
	for timedOut, want := range map[string]float64{"false": 4, "true": 1} {
		count := canon(`wolkvox_chat_duration_seconds_count{operation="main",channel="whatsapp",skill="12",timed_out="` + timedOut + `",job="wolkvox",instance="host:19655"}`)
		if pts := series[count]; len(pts) != 49 || pts[48].value != want {
			t.Errorf("duration count, timed_out=%s: %d samples, %v; want 49 samples ending at %v", timedOut, len(pts), pts, want)
		}
	}
}

// textHistory is a Writer of operation main, by the hour, as OpenMetrics text into out.
func textHistory(t *testing.T) (h *history.Writer, out *bytes.Buffer) {
	t.Helper()
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"1\"\n    token: t\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	out = &bytes.Buffer{}
	if h, err = history.New(cfg.Operations[0], cfg.Histograms, time.Hour, nil, history.OpenMetrics(out)); err != nil {
		t.Fatal(err)
	}
	return h, out
}

// OpenMetrics text writes each family once a day, counters named without _total.
func TestOpenMetricsFamilyHeaders(t *testing.T) {
	h, out := textHistory(t)
	day1 := time.Date(2026, 11, 20, 0, 0, 0, 0, bogota)
	for i := range 2 {
		d := h.Day(day1.AddDate(0, 0, i), day1.AddDate(0, 0, i+1))
		d.Add(historyRecord(fmt.Sprint("a", i), "whatsapp", "2026-11-20 08:10:00", "60"))
		if err := d.Write(); err != nil {
			t.Fatal(err)
		}
	}
	_, headers := readOpenMetrics(t, out.String())
	if fmt.Sprint(headers[:2]) != "[wolkvox_chats counter wolkvox_chat_answer_delay_seconds histogram]" || len(headers) != 2*8 {
		t.Errorf("family headers %v", headers)
	}
}

// Days read together: each chat counts on the day it closed, one whose close time
// is unknown or outside them at the last day's end.
func TestHistoryDaysReadTogether(t *testing.T) {
	h, _ := textHistory(t)
	day1 := time.Date(2026, 11, 20, 0, 0, 0, 0, bogota)
	days := []*history.Day{h.Day(day1, day1.AddDate(0, 0, 1)), h.Day(day1.AddDate(0, 0, 1), day1.AddDate(0, 0, 2))}
	for _, r := range []*wolkvox.Record{
		historyRecord("a", "whatsapp", "2026-11-20 23:50:00", "1200"), // closes 00:10 on day 2
		historyRecord("b", "whatsapp", "2026-11-20 10:00:00", "60"),   // day 1
		historyRecord("c", "whatsapp", "2026-11-22 10:00:00", "60"),   // after both: day 2's end
		historyRecord("d", "whatsapp", "", "60"),                      // unknown: day 2's end
		historyRecord("a", "whatsapp", "2026-11-20 23:50:00", "1200"), // again: once
	} {
		history.AddToDays(days, r)
	}
	for i, want := range []struct{ records, chats, atEnd int }{{1, 1, 0}, {4, 3, 2}} {
		if d := days[i]; d.Records != want.records || d.Chats != want.chats || d.AtDayEnd != want.atEnd {
			t.Errorf("day %d: %d records, %d chats, %d at its end; want %+v", i+1, d.Records, d.Chats, d.AtDayEnd, want)
		}
	}
}

var bogota = func() *time.Location {
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		panic(err)
	}
	return loc
}()

// An operation built in code, not loaded from a file, writes history in its
// default time zone.
func TestHistoryOfAnOperationBuiltInCode(t *testing.T) {
	op := config.DefaultOperation
	op.Name, op.Server = "code", "1"
	var out bytes.Buffer
	h, err := history.New(op, config.DefaultHistograms, time.Hour, nil, history.OpenMetrics(&out))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, bogota)
	d := h.Day(day, day.AddDate(0, 0, 1))
	d.Add(historyRecord("a", "web", "2026-11-20 08:10:00", "600"))
	if err := d.Write(); err != nil {
		t.Fatal(err)
	}
	if d.AtDayEnd != 0 || !strings.Contains(out.String(), `wolkvox_chats_total{operation="code",channel="web"`) {
		t.Errorf("the chat, closed 08:20 in Bogota, was not placed in its day (%d at the day's end):\n%.600s", d.AtDayEnd, out.String())
	}
}

// levels records the level of each line logged through it.
type levels struct {
	mu   *sync.Mutex
	seen map[slog.Level]int
}

func (l levels) Enabled(context.Context, slog.Level) bool { return true }
func (l levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[r.Level]++
	return nil
}
func (l levels) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l levels) WithGroup(string) slog.Handler      { return l }

// The block writer's info lines, of its head, WAL and each block, reach the log at
// debug: the backfill's own lines tell what a user needs.
func TestBlockWriterLogsAtDebug(t *testing.T) {
	rec := levels{mu: &sync.Mutex{}, seen: map[slog.Level]int{}}
	dir := t.TempDir()
	placesChatsAtTheirCloseTime(t, history.Blocks(dir, slog.New(rec), nil), func() map[string][]point { return readBlocks(t, dir) })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen[slog.LevelInfo] != 0 || rec.seen[slog.LevelDebug] == 0 {
		t.Fatalf("lines by level %v: want debug ones and no info one", rec.seen)
	}
}
