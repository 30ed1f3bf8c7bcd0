// Package backfill reads past days of the chat_1 report, within a call budget, and
// has the history package write them as the samples live counting would have
// exported. A run that stops goes on, in a later run, from the first day not written.
package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/durable"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Options is what a backfill reads and writes.
type Options struct {
	Operation  config.Operation
	Histograms config.Histograms
	From, To   string // local days, YYYY-MM-DD, both included
	Output     string
	Step       time.Duration
	Labels     []history.Label
	// MaxCalls bounds the API calls; 0 means the operation's daily_quota less what
	// live polling spends in a day.
	MaxCalls int
	// StoragePath is the live exporter's --storage.path: the history then ends where
	// live counting began. Empty: it ends with To.
	StoragePath string
	UserAgent   string
	Transport   http.RoundTripper // nil: the default
	RecordCap   int               // 0: the API's 60000; tests set less
	Now         func() time.Time  // nil: time.Now
	// After waits as time.After does (nil: time.After): before reading again days
	// refused while another client of the token was calling.
	After func(time.Duration) <-chan time.Time
	Out   io.Writer // progress and summary
}

// Summary is what a run did.
type Summary struct {
	Days, Calls, Records, Chats, AtDayEnd int
}

// ErrStopped reports a run that stopped before its last day; what it wrote stays, and
// a run of the same command goes on from the next day.
var ErrStopped = errors.New("backfill stopped")

// maxDaysPerRead keeps a read within the API's 31-day window, whatever the days' lengths.
const maxDaysPerRead = 30

// run is one backfill between its start and its summary.
type run struct {
	o        Options
	loc      *time.Location
	end      time.Time // where the history ends
	maxCalls int
	out      *os.File
	progress *progress
	history  *history.Writer
	client   *wolkvox.Client
	sum      Summary
}

// Run writes the history of o.From to o.To, or goes on with the one o.Output holds.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	r := &run{o: o, loc: o.Operation.Location()}
	first, err := r.plan()
	if err != nil {
		return r.sum, err
	}
	if err := r.open(first); err != nil {
		return r.sum, err
	}
	defer func() { _ = r.out.Close() }() // after Sync: nothing is left to report
	next, err := day(r.progress.Next, r.loc)
	if err != nil {
		return r.sum, fmt.Errorf("%s: the next day to read: %w", progressPath(o.Output), err)
	}
	days := r.daysFrom(next)
	if days == 0 {
		fmt.Fprintf(o.Out, "%s already holds the history up to %s: nothing to read\n", o.Output, o.To)
		return r.sum, nil
	}
	if err := r.checkCalls(next, days); err != nil {
		return r.sum, err
	}
	if r.client, err = r.newClient(); err != nil {
		return r.sum, err
	}
	return r.sum, r.readAll(ctx, next)
}

// plan checks the days asked for and the call budget, and sets where the history
// ends; it returns the first day.
func (r *run) plan() (time.Time, error) {
	o := r.o
	first, err := day(o.From, r.loc)
	if err != nil {
		return first, fmt.Errorf("--from: %w", err)
	}
	last, err := day(o.To, r.loc)
	if err != nil {
		return first, fmt.Errorf("--to: %w", err)
	}
	if last.Before(first) {
		return first, fmt.Errorf("--to %s is before --from %s", o.To, o.From)
	}
	if r.end, err = r.historyEnd(last); err != nil {
		return first, err
	}
	if r.end.After(o.Now()) {
		return first, fmt.Errorf("--to %s is not over yet: backfill whole past days", o.To)
	}
	r.maxCalls = o.MaxCalls
	if r.maxCalls == 0 {
		r.maxCalls = o.Operation.DailyQuota - o.Operation.CallsPerDay()
		if r.maxCalls <= 0 {
			return first, fmt.Errorf("live polling may spend the whole daily_quota %d of operation %s: set --max-calls to the calls the backfill may make", o.Operation.DailyQuota, o.Operation.Name)
		}
	}
	return first, nil
}

// historyEnd is where the history of days up to last ends: the end of last, or
// where live counting began, if the live exporter's state says so.
func (r *run) historyEnd(last time.Time) (time.Time, error) {
	o := r.o
	_, end := wolkvox.Day(last, r.loc)
	if o.StoragePath == "" {
		return end, nil
	}
	since, err := poller.OpenStorage(o.StoragePath).CountingSince(o.Operation)
	if err != nil {
		return end, fmt.Errorf("--storage.path: %w", err)
	}
	if !since.After(last) {
		return end, fmt.Errorf("--to %s overlaps live counting, which began at %s: the last day to backfill is %s",
			o.To, since.In(r.loc).Format(time.RFC3339), lastDayBefore(since, r.loc))
	}
	fmt.Fprintf(o.Out, "live counting of operation %s began at %s: the history ends there, so history and live counting count each chat once\n",
		o.Operation.Name, since.In(r.loc).Format(time.RFC3339))
	return earlierOf(since, end), nil
}

// daysFrom counts the days to read from next to the end.
func (r *run) daysFrom(next time.Time) int {
	days := 0
	for d := next; d.Before(r.end); days++ {
		_, d = wolkvox.Day(d, r.loc)
	}
	return days
}

// checkCalls says what the days may cost, and refuses more than the budget.
func (r *run) checkCalls(next time.Time, days int) error {
	o := r.o
	// The estimate is a call a day: the first day is read alone, and how many days
	// later calls read together depends on how many chats the days hold.
	fmt.Fprintf(o.Out, "backfill of operation %s, %d day(s) from %s in %s: at most %d call(s), one a day; fewer where a call reads days together (up to 30 days and half of the 60,000-record answer), one more for each split of an answer cut at 60,000; at most %d allowed (--max-calls)\n",
		o.Operation.Name, days, next.Format(time.DateOnly), r.loc, days, r.maxCalls)
	if days > r.maxCalls {
		return fmt.Errorf("%d day(s) may need %d calls, more than --max-calls %d (daily_quota %d less %d a day for live polling): backfill fewer days at a time, or raise --max-calls",
			days, days, r.maxCalls, o.Operation.DailyQuota, o.Operation.CallsPerDay())
	}
	return nil
}

func (r *run) newClient() (*wolkvox.Client, error) {
	opts := wolkvox.OperationOptions(r.o.Operation)
	opts.UserAgent, opts.Transport, opts.RecordCap = r.o.UserAgent, r.o.Transport, r.o.RecordCap
	return wolkvox.NewClient(opts)
}

// readAll reads the days from next to the end, writing each once read.
func (r *run) readAll(ctx context.Context, next time.Time) error {
	o := r.o
	begun := time.Now()
	perRead := 1 // days read in one call; more once the days read show they fit
	for d := next; d.Before(r.end); {
		var bounds []time.Time // the days' starts, then the last one's stop
		for len(bounds) < perRead && d.Before(r.end) {
			bounds = append(bounds, d)
			_, d = wolkvox.Day(d, r.loc)
		}
		d = earlierOf(d, r.end)
		bounds = append(bounds, d)
		clock := time.Now()
		read, calls, err := r.readDays(ctx, bounds)
		r.sum.Calls += calls
		if err != nil {
			fmt.Fprintf(o.Out, "stopped at %s: %v\n%s holds the days before it; run the same command again to go on from there\n",
				bounds[0].Format(time.DateOnly), err, o.Output)
			return fmt.Errorf("%w at %s: %w", ErrStopped, bounds[0].Format(time.DateOnly), err)
		}
		most, err := r.writeDays(read, bounds, calls, clock)
		if err != nil {
			return err
		}
		// Days that would fill half an answer, within the API's 31-day window.
		perRead = min(maxDaysPerRead, max(1, recordCap(o)/2/max(most, 1)))
	}
	fmt.Fprintf(o.Out, "wrote %d day(s), %d chats (%d placed at their day's end: close time unknown or outside the day), %d call(s), in %s, to %s\n",
		r.sum.Days, r.sum.Chats, r.sum.AtDayEnd, r.sum.Calls, time.Since(begun).Round(time.Second), o.Output)
	fmt.Fprintf(o.Out, "next: promtool tsdb create-blocks-from openmetrics %s <data directory>\n", o.Output)
	return nil
}

// writeDays writes the days read, saving the progress after each, and returns the
// most records a day held.
func (r *run) writeDays(read []*history.Day, bounds []time.Time, calls int, clock time.Time) (most int, err error) {
	for i, hd := range read {
		if err := hd.Write(); err != nil {
			return most, err
		}
		_, dayEnd := wolkvox.Day(bounds[i], r.loc)
		r.progress.Next = dayEnd.In(r.loc).Format(time.DateOnly)
		if err := r.progress.save(r.o.Output, r.out, r.history); err != nil {
			return most, err
		}
		r.sum.Days++
		r.sum.Records += hd.Records
		r.sum.Chats += hd.Chats
		r.sum.AtDayEnd += hd.AtDayEnd
		most = max(most, hd.Records)
		readWith := fmt.Sprintf("%d call(s)", calls)
		if i > 0 {
			readWith = "read with " + bounds[0].Format(time.DateOnly)
		}
		fmt.Fprintf(r.o.Out, "%s  %d records  %d chats  %s  %s\n", bounds[i].Format(time.DateOnly), hd.Records, hd.Chats, readWith, time.Since(clock).Round(time.Millisecond))
	}
	return most, nil
}

func recordCap(o Options) int {
	if o.RecordCap > 0 {
		return o.RecordCap
	}
	return wolkvox.RecordCap
}

// readDays reads consecutive days, bounds being their starts and the last one's
// stop: in one call, or split as the record cap demands, within the call budget.
// Days refused while another client of the token was calling are read again.
func (r *run) readDays(ctx context.Context, bounds []time.Time) ([]*history.Day, int, error) {
	calls := 0
	for attempt := 0; ; attempt++ {
		days := make([]*history.Day, len(bounds)-1)
		for i := range days {
			days[i] = r.history.Day(bounds[i], bounds[i+1])
		}
		n, err := r.read(ctx, wolkvox.Span{Next: bounds[0], Stop: bounds[len(bounds)-1]}, r.maxCalls-r.sum.Calls-calls,
			func(rec *wolkvox.Record) { history.AddToDays(days, rec) })
		calls += n
		we, _ := errors.AsType[*wolkvox.Error](err)
		switch {
		case err == nil:
			return days, calls, nil
		case we != nil && we.Result == wolkvox.ResultConcurrencyLimited && attempt < 3:
			// Another client of the token, such as the live exporter, is calling:
			// its call ends within request_timeout. The days are read again whole.
			select {
			case <-ctx.Done():
				return nil, calls, ctx.Err()
			case <-r.o.After(time.Duration(r.o.Operation.RequestTimeout)):
			}
		default:
			return nil, calls, err
		}
	}
}

// read reads span in at most budget calls, passing each record to each, and
// returns the calls made.
func (r *run) read(ctx context.Context, span wolkvox.Span, budget int, each func(*wolkvox.Record)) (int, error) {
	calls := 0
	for !span.Done() {
		if calls >= budget {
			return calls, errors.New("the next call would pass --max-calls")
		}
		w := span.Window()
		callCtx, cancel := context.WithTimeout(ctx, time.Duration(r.o.Operation.RequestTimeout))
		ans, err := r.client.Chats(callCtx, w.From, w.To, each)
		cancel()
		if !errors.Is(err, wolkvox.ErrNotSent) {
			calls++
		}
		if err != nil {
			return calls, err
		}
		if span.Answered(w, ans.Truncated) == wolkvox.Missing {
			fmt.Fprintf(r.o.Out, "%s: an answer was cut at the record cap even for a one-minute window: chats may be missing\n", w.From.Format(time.DateTime))
		}
	}
	return calls, nil
}

// day is the first instant of the local day written as YYYY-MM-DD.
func day(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a day written YYYY-MM-DD", s)
	}
	start, _ := wolkvox.Day(t.Add(12*time.Hour), loc)
	return start, nil
}

func lastDayBefore(t time.Time, loc *time.Location) string {
	start, _ := wolkvox.Day(t, loc)
	if start.Equal(t) {
		start, _ = wolkvox.Day(t.Add(-time.Second), loc)
		return start.In(loc).Format(time.DateOnly)
	}
	return start.In(loc).Format(time.DateOnly) + " (up to where live counting began)"
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

const progressVersion = 2

// progress is saved beside the output after each day, so that a run can go on where
// one stopped.
type progress struct {
	Version   int             `json:"version"`
	Operation string          `json:"operation"`
	From      string          `json:"from"`
	Step      int64           `json:"step_seconds"`
	Labels    []string        `json:"labels"`
	Next      string          `json:"next"`    // the next day to read
	Written   int64           `json:"written"` // bytes of the output before its # EOF
	History   json.RawMessage `json:"history"`
}

func labelsText(labels []history.Label) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l.Name + "=" + l.Value
	}
	return out
}

func progressPath(output string) string { return output + ".progress" }

// open opens the output to go on writing it: a new one, or one a run stopped
// writing, whose progress file says where it stopped.
func (r *run) open(first time.Time) error {
	o := r.o
	p, err := readProgress(o, first.In(r.loc).Format(time.DateOnly))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(o.Output, os.O_RDWR|os.O_CREATE, 0o644) //nolint:gosec // G302,G304: the operator names the output, which promtool must read
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	// What a run killed while writing a day left after the last day written is cut
	// off; the next day is written over the # EOF.
	err = f.Truncate(p.Written)
	if err == nil {
		_, err = f.Seek(p.Written, io.SeekStart)
	}
	if err == nil {
		err = endOutput(f)
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("--output: %w", err)
	}
	h, err := history.New(o.Operation, o.Histograms, o.Step, o.Labels, f)
	if err == nil && p.History != nil {
		err = h.Resume(p.History)
	}
	if err != nil {
		_ = f.Close()
		return err
	}
	r.out, r.progress, r.history = f, p, h
	return nil
}

// readProgress reads the progress of the run that began o.Output, or starts one
// from the day first.
func readProgress(o Options, first string) (*progress, error) {
	p := &progress{Version: progressVersion, Operation: o.Operation.Name, From: first,
		Step: int64(o.Step / time.Second), Labels: labelsText(o.Labels), Next: first}
	saved, err := os.ReadFile(progressPath(o.Output))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(o.Output); err == nil {
			return nil, fmt.Errorf("%s exists and holds no history this command can go on with (no %s): remove it or choose another --output",
				o.Output, filepath.Base(progressPath(o.Output)))
		}
		return p, nil
	case err != nil:
		return nil, err
	}
	var old progress
	if err := json.Unmarshal(saved, &old); err != nil || old.Version != progressVersion {
		return nil, fmt.Errorf("%s is not a backfill progress file this version reads: remove it and %s", progressPath(o.Output), o.Output)
	}
	if old.Operation != p.Operation || old.From != p.From || old.Step != p.Step || strings.Join(old.Labels, ",") != strings.Join(p.Labels, ",") {
		return nil, fmt.Errorf("%s holds the history of operation %s from %s, step %ds, labels %v: go on with the same --operation, --from, --step and --label, or choose another --output",
			o.Output, old.Operation, old.From, old.Step, old.Labels)
	}
	return &old, nil
}

// endOutput writes # EOF where out is, durably, and goes back to where it was: the
// next day is written over it.
func endOutput(out *os.File) error {
	at, err := out.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = out.WriteString("# EOF\n")
	}
	if err == nil {
		err = out.Sync()
	}
	if err == nil {
		_, err = out.Seek(at, io.SeekStart)
	}
	return err
}

// save ends the output with # EOF and saves the progress: the next run cuts the
// output back to the end of the last day written.
func (p *progress) save(output string, out *os.File, h *history.Writer) error {
	written, err := out.Seek(0, io.SeekCurrent)
	if err == nil {
		err = endOutput(out)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", output, err)
	}
	p.Written = written
	if p.History, err = h.Progress(); err != nil {
		return err
	}
	err = durable.WriteFile(progressPath(output), 0o600, func(w io.Writer) error { return json.NewEncoder(w).Encode(p) })
	if err != nil {
		return fmt.Errorf("save the progress: %w", err)
	}
	return nil
}
