// Package backfill reads past days of the chat_1 report, within a call budget, and
// has the history package write them as the samples live counting would have
// exported: Prometheus TSDB blocks, or OpenMetrics text. A run that stops goes on,
// in a later run, from the first day not written.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/times"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Options is what a backfill reads and writes.
type Options struct {
	Operation  config.Operation
	Histograms config.Histograms
	From, To   string // local days, YYYY-MM-DD, both included
	// Output is the directory of blocks, or the OpenMetrics file.
	Output string
	// Format is FormatBlocks or FormatOpenMetrics; empty means blocks, unless Output
	// is named as a file of text.
	Format string
	Step   time.Duration
	Labels []history.Label
	// MaxCalls bounds the API calls; 0 means the operation's daily_quota less what
	// live polling spends in a day.
	MaxCalls int
	// DryRun prints the plan, and makes no call and writes nothing.
	DryRun bool
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
	// Logger takes the lines of the tsdb package, which writes the blocks; nil
	// discards them.
	Logger *slog.Logger
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
	endsLive bool      // where live counting began
	// liveSince is when live counting began, as --storage.path says; zero if it
	// has not, or no --storage.path was given.
	liveSince time.Time
	// seeds: live counting has not begun, and will go on from where the history
	// ends, from its counts (Store.Seed).
	seeds    bool
	maxCalls int
	out      output
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
	var err error
	if o.Format, err = format(o); err != nil {
		return Summary{}, err
	}
	r := &run{o: o, loc: o.Operation.Location(), out: newOutput(o)}
	first, err := r.plan()
	if err != nil {
		return r.sum, err
	}
	if r.progress, err = readProgress(o, r.out, first.In(r.loc).Format(time.DateOnly)); err != nil {
		return r.sum, err
	}
	r.warnRestartAtEnd()
	next, err := day(r.progress.Next, r.loc)
	if err != nil {
		return r.sum, fmt.Errorf("%s: the next day to read: %w", r.out.progressPath(), err)
	}
	days := r.daysFrom(next)
	if days > 0 {
		if err := r.checkCalls(next, days); err != nil || o.DryRun {
			return r.sum, err
		}
	}
	if err := r.open(next); err != nil { // repairs what a run killed while writing left
		return r.sum, err
	}
	defer func() { _ = r.out.close() }() // after what was written was made durable: nothing is left to report
	if days == 0 {
		fmt.Fprintf(o.Out, "%s already holds the history up to %s: nothing to read\n", o.Output, r.endText())
		return r.sum, nil
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
	if today, _ := wolkvox.Day(o.Now(), r.loc); last.After(today) {
		return first, fmt.Errorf("--to %s is after today, %s in %s", o.To, today.Format(time.DateOnly), r.loc)
	}
	if r.end, err = r.historyEnd(last); err != nil {
		return first, err
	}
	if r.end.After(o.Now()) {
		return first, fmt.Errorf("--to %s is today, which is not over: backfill whole past days, or, before the exporter's first start, pass its --storage.path to end the history where its live counting will begin (docs/history.md)", o.To)
	}
	r.warnTargetLabels()
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
	if errors.Is(err, fs.ErrNotExist) {
		end = r.seedEnd(end)
		if r.seeds {
			return end, checkStorageOwner(o.StoragePath, os.Geteuid())
		}
		return end, nil
	}
	if err != nil {
		return end, fmt.Errorf("--storage.path: %w", err)
	}
	if !since.After(last) {
		return end, fmt.Errorf("--to %s overlaps live counting, which began at %s: the last day to backfill is %s",
			o.To, since.In(r.loc).Format(time.RFC3339), lastDayBefore(since, r.loc))
	}
	r.endsLive, r.liveSince = !since.After(end), since
	return times.Earlier(since, end), nil
}

// warnRestartAtEnd warns when what Prometheus holds after the history's end starts
// its counters from zero: live counting that began without the history's counts, or,
// where live counting began later, another run's days or a gap. Over the day that
// holds such a restart, increase(...[1d]) extrapolates and is not exact.
func (r *run) warnRestartAtEnd() {
	var after string
	switch {
	case r.liveSince.IsZero() || r.endsLive && r.progress.SeededLive == r.end.Unix():
		return // no live counting known, or it goes on from this history's counts
	case r.endsLive:
		after = "live counting, which began there without this history's counts,"
	default:
		after = fmt.Sprintf("what Prometheus holds from there on (another backfill's days; live counting began only at %s)",
			r.liveSince.In(r.loc).Format(time.RFC3339))
	}
	fmt.Fprintf(r.o.Out, "warning: the history ends at %s, and %s starts its counters from 0 there: that day's count by the counters' difference between midnights is then not exact; with Prometheus 3, increase(...[1d] anchored) is (docs/metrics.md: Counts per day)\n",
		r.end.In(r.loc).Format(time.RFC3339), after)
}

// seedEnd is where the history of days up to end ends when live counting has not
// begun: at end, or where live polling would begin now (overlap before now, where
// chats may still be listed late). Live counting then goes on from there, with the
// history's counts, if the exporter may still read on from there (max_catchup).
func (r *run) seedEnd(end time.Time) time.Time {
	op := r.o.Operation
	now := r.o.Now().Truncate(time.Second)
	end = times.Earlier(end, now.Add(-time.Duration(op.Overlap)))
	r.seeds = !end.Before(now.Add(-time.Duration(op.MaxCatchup)))
	if !r.seeds {
		fmt.Fprintf(r.o.Out, "note: live counting has not begun, and this history ends more than max_catchup (%s) before now: the exporter will count from its first start, from zero. To have it go on from the history's counts, backfill up to today before its first start.\n",
			op.MaxCatchup)
	}
	return end
}

// endText says where the history ends.
func (r *run) endText() string {
	if r.endsLive && r.progress != nil && r.progress.SeededLive == r.end.Unix() {
		return r.end.In(r.loc).Format(time.RFC3339) + ", where live counting began and went on from this history's counts: each chat counted once, with no restart"
	}
	if r.endsLive {
		return r.end.In(r.loc).Format(time.RFC3339) + ", where live counting began: history and live counting count each chat once, and the live counters restart from zero there (docs/history.md: If the exporter already ran)"
	}
	if r.seeds {
		return r.end.In(r.loc).Format(time.RFC3339) + ", where live counting will begin: the exporter's first start with this --storage.path goes on from the history's counts, each chat counted once"
	}
	return r.end.In(r.loc).Format(time.RFC3339) + ", the end of " + r.o.To
}

// warnTargetLabels warns of history whose series would not join the live ones.
func (r *run) warnTargetLabels() {
	var missing []string
	for _, name := range []string{"job", "instance"} {
		if !slices.ContainsFunc(r.o.Labels, func(l history.Label) bool { return l.Name == name }) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	fmt.Fprintf(r.o.Out, "warning: no --label for %s: Prometheus gives the live series the job and instance of their scrape, and history without the same labels makes other series, which the dashboards' sums do not join. Pass the scrape's, as up{} shows them, e.g. --label job=wolkvox --label instance=myhost:19655\n",
		strings.Join(missing, " or "))
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
	fmt.Fprintf(o.Out, "backfill of operation %s, %d day(s) from %s in %s, as %s into %s; the history ends at %s\n",
		o.Operation.Name, days, next.Format(time.DateOnly), r.loc, o.Format, o.Output, r.endText())
	fmt.Fprintf(o.Out, "calls: at most %d, one a day; fewer where a call reads days together (up to 30 days and half of the 60,000-record answer), one more for each split of an answer cut at 60,000\n",
		days)
	if o.DryRun {
		fmt.Fprintf(o.Out, "dry run (--max-calls=0): no call made, nothing written; without --max-calls, a run may make %d (daily_quota %d less %d a day for live polling)\n",
			r.maxCalls, o.Operation.DailyQuota, o.Operation.CallsPerDay())
		return nil
	}
	fmt.Fprintf(o.Out, "at most %d call(s) allowed (--max-calls)\n", r.maxCalls)
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
		d = times.Earlier(d, r.end)
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
	fmt.Fprintf(o.Out, "wrote %d day(s), %d chats (%d placed at their day's end: close time unknown or outside the day), %d call(s), in %s, to %s; the history ends at %s\n",
		r.sum.Days, r.sum.Chats, r.sum.AtDayEnd, r.sum.Calls, time.Since(begun).Round(time.Second), o.Output, r.endText())
	if r.seeds {
		fmt.Fprintf(o.Out, "live counting goes on from the history: %s holds its state; start the exporter with --storage.path=%s within max_catchup (%s)\n",
			o.StoragePath, o.StoragePath, o.Operation.MaxCatchup)
	}
	fmt.Fprintln(o.Out, r.out.next())
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
		if err := r.out.written(r.progress); err != nil {
			return most, err
		}
		// Before the progress: a run stopped in between reads the day again, up to
		// where the seeded state says live counting began.
		if r.seeds && !dayEnd.Before(r.end) {
			if err := poller.OpenStorage(r.o.StoragePath).Seed(r.o.Operation, r.o.Histograms, r.history.Counts(), r.end, r.o.Now()); err != nil {
				return most, fmt.Errorf("--storage.path: the state live counting goes on from: %w", err)
			}
			r.progress.SeededLive = r.end.Unix()
		}
		if err := saveProgress(r.out, r.progress, r.history); err != nil {
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
		ans, err := r.client.Chats(ctx, w.From, w.To, each)
		if wolkvox.SpentQuota(err) {
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

// open makes the output ready to take the days from next.
func (r *run) open(next time.Time) error {
	out, err := r.out.open(r.progress, next)
	if err != nil {
		return err
	}
	h, err := history.New(r.o.Operation, r.o.Histograms, r.o.Step, r.o.Labels, out)
	if err == nil && r.progress.History != nil {
		err = h.Resume(r.progress.History)
	}
	if err != nil {
		_ = r.out.close()
		return err
	}
	r.history = h
	return nil
}
