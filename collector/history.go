package collector

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// History writes the chats of past days as the samples live counting would have
// exported: the same metrics, names, labels and buckets, a sample every step, as
// OpenMetrics for promtool's backfill. Each chat counts at its close time. Days are
// written one at a time, so that memory does not grow with them; the caller ends
// the file with # EOF.
type History struct {
	s      *settings
	st     *state // counts at the end of the last day written, label limits and budget
	step   time.Duration
	target string // the target labels, written after the operation's
	w      *bufio.Writer
	line   []byte
}

// Label is a target label added to every series, such as job or instance.
type Label struct{ Name, Value string }

// NewHistory returns a History of operation op that writes to w, starting from no
// chats counted.
func NewHistory(op config.Operation, h config.Histograms, step time.Duration, target []Label, w io.Writer) (*History, error) {
	if step <= 0 || step%time.Second != 0 {
		return nil, fmt.Errorf("step %s must be a positive whole number of seconds", step)
	}
	s := &settings{cfg: op, buckets: bucketSet{answerDelay: h.AnswerDelay, duration: h.Duration, handleTime: h.HandleTime}}
	var b strings.Builder
	for _, l := range target {
		if !labelNameRE(l.Name) || l.Name == "le" || l.Name == "operation" || slices.Contains(chatLabelNames, l.Name) {
			return nil, fmt.Errorf("target label %q: a label name of its own is needed (letters, digits and '_', not one of the metrics' labels)", l.Name)
		}
		b.WriteString("," + l.Name + "=" + quoteLabel(l.Value))
	}
	return &History{s: s, st: newState(s), step: step, target: b.String(), w: bufio.NewWriterSize(w, 1<<16)}, nil
}

var chatLabelNames = []string{"channel", "skill", "feeling", "last_participant", "code", "description", "agent_id", "agent_name"}

func labelNameRE(name string) bool {
	if name == "" || strings.HasPrefix(name, "__") {
		return false
	}
	for i, c := range name {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// HistoryDay gathers the chats of one local day.
type HistoryDay struct {
	h           *History
	start, stop time.Time // the day, or its part before live counting began
	n           int       // samples in the day, one every step from start
	b           *batch    // labels the chats, as live counting does, and counts each once
	// Per label set, what each step added; the last slot is the day's end, where a
	// chat with no close time in the day counts.
	chats        map[chatKey][]float64
	dispositions map[dispositionKey][]float64
	scopes       map[scope]*scopeSteps
	// AtDayEnd counts the chats placed at the day's end: their close time (date
	// plus chat_duration) was missing, unreadable or outside the day.
	AtDayEnd int
	// Chats counts the distinct chats of the day, Records the records read that
	// close on it.
	Chats, Records int
}

type scopeSteps struct {
	hist     [len(scopeHistograms)][]*histogram
	counters [3][]float64 // customer characters, agent characters, agent messages
}

// Day starts the day [start, stop): Add its records, then Write it.
func (h *History) Day(start, stop time.Time) *HistoryDay {
	n := int((stop.Sub(start) + h.step - 1) / h.step)
	return &HistoryDay{
		h: h, start: start, stop: stop, n: n,
		b:            newBatch(h.s, h.st, func(uint64) bool { return false }), // a chat closes on one day only
		chats:        map[chatKey][]float64{},
		dispositions: map[dispositionKey][]float64{},
		scopes:       map[scope]*scopeSteps{},
	}
}

// Add counts a record of the day once, at its close time.
func (d *HistoryDay) Add(r *wolkvox.Record) { AddToDays([]*HistoryDay{d}, r) }

// AddToDays counts a record of consecutive days read together once, on the day
// of its close time, date plus chat_duration; a record whose close time is
// unknown or outside the days counts at the last day's end.
func AddToDays(days []*HistoryDay, r *wolkvox.Record) {
	last := days[len(days)-1]
	h := last.h
	d, slot := last, last.n // the last day's end
	if opened, err := wolkvox.ParseDate(r.Date, h.s.cfg.Location()); err == nil && r.Duration.Err == nil {
		closed := opened.Add(time.Duration(r.Duration.Value * float64(time.Second)))
		for _, day := range days {
			if !closed.Before(day.start) && closed.Before(day.stop) {
				d, slot = day, int(closed.Sub(day.start)/h.step)
				break
			}
		}
	}
	d.Records++
	d.add(r, slot)
}

func (d *HistoryDay) add(r *wolkvox.Record, slot int) {
	c, ok := d.b.count(r)
	if !ok {
		return
	}
	d.Chats++
	if slot == d.n {
		d.AtDayEnd++
	}
	steps := func() []float64 { return make([]float64, d.n+1) }
	if d.chats[c.chat] == nil {
		d.chats[c.chat] = steps()
	}
	d.chats[c.chat][slot]++
	if d.dispositions[c.disposition] == nil {
		d.dispositions[c.disposition] = steps()
	}
	d.dispositions[c.disposition][slot]++
	sc := d.scopes[c.chat.scope]
	if sc == nil {
		sc = &scopeSteps{}
		for i := range sc.hist {
			sc.hist[i] = make([]*histogram, d.n+1)
		}
		for i := range sc.counters {
			sc.counters[i] = steps()
		}
		d.scopes[c.chat.scope] = sc
	}
	for i, sh := range scopeHistograms {
		v := c.observed[sh.observed]
		if math.IsNaN(v) || sh.timedOut != "" && sh.timedOut != strconv.FormatBool(c.timedOut) {
			continue
		}
		if sc.hist[i][slot] == nil {
			sc.hist[i][slot] = newHistogram(sh.bounds(d.h.s.buckets))
		}
		sc.hist[i][slot].observe(v)
	}
	for i := range sc.counters {
		if v := c.observed[obsCustomerChars+i]; !math.IsNaN(v) {
			sc.counters[i][slot] += v
		}
	}
}

// scopeHistogram is one histogram series of a channel and skill.
type scopeHistogram struct {
	desc     *prometheus.Desc
	timedOut string // the timed_out label of the duration, "" for the others
	observed int    // the observation it takes
	of       func(*scopeStats) *histogram
	bounds   func(bucketSet) []float64
}

var scopeHistograms = [...]scopeHistogram{
	{answerDelayDesc, "", obsAnswerDelay, func(s *scopeStats) *histogram { return s.answerDelay }, func(b bucketSet) []float64 { return b.answerDelay }},
	{durationDesc, "false", obsDuration, func(s *scopeStats) *histogram { return s.duration }, func(b bucketSet) []float64 { return b.duration }},
	{durationDesc, "true", obsDuration, func(s *scopeStats) *histogram { return s.timedOutDuration }, func(b bucketSet) []float64 { return b.duration }},
	{handleTimeDesc, "", obsHandleTime, func(s *scopeStats) *histogram { return s.handleTime }, func(b bucketSet) []float64 { return b.handleTime }},
}

// Write writes the day's samples, one family after the other: at each step of
// the day after its start, and at its end, which the next day does not write again.
// Its start was the end of the day before, but for series new on this day: those
// start from zero at its start.
func (d *HistoryDay) Write() error {
	h := d.h
	t := h.st.tally
	times := make([]int64, d.n+1)
	for i := range times {
		times[i] = d.start.Add(time.Duration(i) * h.step).Unix()
	}
	times[d.n] = d.stop.Unix()

	h.header(chatsDesc, "counter")
	for _, k := range keysOf(t.chats, d.chats, compareChatKeys) {
		name := h.series(chatsDesc, "", k.channel, k.skill, k.feeling, k.lastParticipant)
		h.counterPoints(name, t.chats[k], d.chats[k], times)
	}
	scopes := keysOf(t.scopes, d.scopes, compareScopes)
	for i, sh := range scopeHistograms {
		if i == 0 || scopeHistograms[i-1].desc != sh.desc {
			h.header(sh.desc, "histogram")
		}
		for _, k := range scopes {
			var base *histogram // nil: the series is new
			if st := t.scopes[k]; st != nil {
				base = sh.of(st)
			}
			var steps []*histogram
			if sc := d.scopes[k]; sc != nil {
				steps = sc.hist[i]
			}
			h.histogramPoints(sh, k, base, steps, times)
		}
	}
	for i, desc := range []*prometheus.Desc{customerCharsDesc, agentCharsDesc, agentMessagesDesc} {
		h.header(desc, "counter")
		for _, k := range scopes {
			var base *counter // nil: the series is new
			if st := t.scopes[k]; st != nil {
				base = &counter{v: [...]float64{st.customerChars, st.agentChars, st.agentMessages}[i]}
			}
			var steps []float64
			if sc := d.scopes[k]; sc != nil {
				steps = sc.counters[i]
			}
			h.counterPoints(h.series(desc, "", k.channel, k.skill), base, steps, times)
		}
	}
	h.header(dispositionsDesc, "counter")
	for _, k := range keysOf(t.dispositions, d.dispositions, compareDispositionKeys) {
		h.counterPoints(h.series(dispositionsDesc, "", k.channel, k.skill, k.code, k.description), t.dispositions[k], d.dispositions[k], times)
	}
	if err := h.w.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	h.st.tally.merge(d.b.tally, time.Time{})
	h.st.limiter.commit(d.b.staged)
	return nil
}

// keysOf returns the keys of a and b, in order.
func keysOf[K comparable, A, B any](a map[K]A, b map[K]B, compare func(K, K) int) []K {
	keys := make([]K, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compare)
	return keys
}

func compareScopes(a, b scope) int {
	return cmp.Or(strings.Compare(a.channel, b.channel), strings.Compare(a.skill, b.skill))
}

func compareChatKeys(a, b chatKey) int {
	return cmp.Or(compareScopes(a.scope, b.scope), strings.Compare(a.feeling, b.feeling), strings.Compare(a.lastParticipant, b.lastParticipant))
}

func compareDispositionKeys(a, b dispositionKey) int {
	return cmp.Or(compareScopes(a.scope, b.scope), strings.Compare(a.code, b.code), strings.Compare(a.description, b.description))
}

// firstPoint is the first of a day's times to write a series at: its start only
// for a series the days before did not write, whose start the day before did not
// write as its end.
func firstPoint(newSeries bool) int {
	if newSeries {
		return 0
	}
	return 1
}

// header writes the HELP and TYPE lines of a family, named as OpenMetrics names it:
// without _total for a counter.
func (h *History) header(d *prometheus.Desc, kind string) {
	name, help := families[d].name, families[d].help
	if kind == "counter" {
		name = strings.TrimSuffix(name, "_total")
	}
	h.write("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + kind + "\n")
}

// series writes nothing: it returns a series' name and labels, with suffix after the
// name, the operation's label first and the target labels last.
func (h *History) series(d *prometheus.Desc, suffix string, values ...string) string {
	var b strings.Builder
	b.WriteString(families[d].name + suffix + `{operation=` + quoteLabel(h.s.cfg.Name))
	for i, name := range families[d].labels[1:] {
		b.WriteString("," + name + "=" + quoteLabel(values[i]))
	}
	b.WriteString(h.target)
	return b.String()
}

// counterPoints writes a counter's samples: at each time, base and what the steps
// before it added; at the day's end, also what counts at the day's end. A nil base
// is a series new on the day.
func (h *History) counterPoints(series string, base *counter, steps []float64, times []int64) {
	v := 0.0
	if base != nil {
		v = base.v
	}
	for i, at := range times {
		if i > 0 && steps != nil {
			v += steps[i-1]
			if i == len(steps)-1 {
				v += steps[i]
			}
		}
		if i >= firstPoint(base == nil) {
			h.sample(series+"} ", v, at)
		}
	}
}

// histogramPoints writes a histogram's points: its buckets, count and sum at each time.
func (h *History) histogramPoints(sh scopeHistogram, k scope, base *histogram, steps []*histogram, times []int64) {
	bounds := sh.bounds(h.s.buckets)
	cur := newHistogram(bounds)
	if base != nil {
		cur.add(base)
	}
	labels := []string{k.channel, k.skill}
	if sh.timedOut != "" {
		labels = append(labels, sh.timedOut)
	}
	buckets := h.series(sh.desc, "_bucket", labels...)
	count, sum := h.series(sh.desc, "_count", labels...)+"} ", h.series(sh.desc, "_sum", labels...)+"} "
	les := make([]string, len(bounds)+1)
	for i, b := range bounds {
		les[i] = buckets + `,le="` + formatLe(b) + `"} `
	}
	les[len(bounds)] = buckets + `,le="+Inf"} `
	for i, at := range times {
		if i > 0 && steps != nil {
			added := steps[i-1 : i]
			if i == len(steps)-1 {
				added = steps[i-1:] // the day's end counts in the sample at its end
			}
			for _, step := range added {
				if step != nil {
					cur.add(step)
				}
			}
		}
		if i < firstPoint(base == nil) {
			continue
		}
		var running uint64
		for j, c := range cur.counts {
			running += c
			h.sample(les[j], float64(running), at)
		}
		h.sample(count, float64(cur.count), at)
		h.sample(sum, cur.sum, at)
	}
}

// formatLe writes a bucket bound as OpenMetrics and Prometheus 3 write it: 20.0.
func formatLe(b float64) string {
	s := strconv.FormatFloat(b, 'f', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func (h *History) sample(series string, v float64, at int64) {
	h.line = append(h.line[:0], series...)
	h.line = strconv.AppendFloat(h.line, v, 'f', -1, 64)
	h.line = append(h.line, ' ')
	h.line = strconv.AppendInt(h.line, at, 10)
	h.line = append(h.line, '\n')
	_, _ = h.w.Write(h.line) // bufio errors are sticky: Flush reports them
}

func (h *History) write(s string) { _, _ = h.w.WriteString(s) }

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// quoteLabel writes a label value as OpenMetrics quotes it.
func quoteLabel(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

// Progress is the state of a History between runs: the counts at the end of the
// last day written, so that a run can go on where the last stopped.
func (h *History) Progress() ([]byte, error) {
	return json.Marshal(encodeState(h.s, h.st))
}

// Resume goes on from progress that History.Progress of the same operation wrote.
func (h *History) Resume(progress []byte) error {
	st, _, err := decodeState(progress, h.s)
	if err != nil {
		return err
	}
	var f stateFile
	if err := json.Unmarshal(progress, &f); err != nil || f.Labeling != labeling(h.s) {
		return errors.New("the history was written with other skill names, buckets or label limits")
	}
	h.st = st
	return nil
}
