// Package backfill reads past days of the chat_1 report into OpenMetrics history, which promtool turns into Prometheus blocks.
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

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Options is what a backfill reads and writes.
type Options struct {
	Operation  config.Operation
	Histograms config.Histograms
	From, To   string // local days, YYYY-MM-DD, both included
	Output     string
	Step       time.Duration
	Labels     []collector.Label
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

const progressVersion = 1

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

// Run writes the history of o.From to o.To, or goes on with the one o.Output holds.
func Run(ctx context.Context, o Options) (Summary, error) {
	var sum Summary
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	loc := o.Operation.Location()
	first, err := day(o.From, loc)
	if err != nil {
		return sum, fmt.Errorf("--from: %w", err)
	}
	last, err := day(o.To, loc)
	if err != nil {
		return sum, fmt.Errorf("--to: %w", err)
	}
	if last.Before(first) {
		return sum, fmt.Errorf("--to %s is before --from %s", o.To, o.From)
	}
	_, lastEnd := wolkvox.Day(last, loc)
	end := lastEnd // where the history ends
	if o.StoragePath != "" {
		since, err := collector.CountingSince(o.StoragePath, o.Operation)
		if err != nil {
			return sum, fmt.Errorf("--storage.path: %w", err)
		}
		if !since.After(last) {
			return sum, fmt.Errorf("--to %s overlaps live counting, which began at %s: the last day to backfill is %s",
				o.To, since.In(loc).Format(time.RFC3339), lastDayBefore(since, loc))
		}
		if since.Before(lastEnd) {
			end = since
		}
		fmt.Fprintf(o.Out, "live counting of operation %s began at %s: the history ends there, so history and live counting count each chat once\n",
			o.Operation.Name, since.In(loc).Format(time.RFC3339))
	}
	if end.After(o.Now()) {
		return sum, fmt.Errorf("--to %s is not over yet: backfill whole past days", o.To)
	}

	maxCalls := o.MaxCalls
	if maxCalls == 0 {
		maxCalls = o.Operation.DailyQuota - o.Operation.CallsPerDay()
		if maxCalls <= 0 {
			return sum, fmt.Errorf("live polling may spend the whole daily_quota %d of operation %s: set --max-calls to the calls the backfill may make", o.Operation.DailyQuota, o.Operation.Name)
		}
	}

	out, p, h, err := openOutput(o, first)
	if err != nil {
		return sum, err
	}
	defer func() { _ = out.Close() }() // after Sync: nothing is left to report
	next, _ := day(p.Next, loc)
	days := 0
	for d := next; d.Before(end); days++ {
		_, d = wolkvox.Day(d, loc)
	}
	if days == 0 {
		fmt.Fprintf(o.Out, "%s already holds the history up to %s: nothing to read\n", o.Output, o.To)
		return sum, nil
	}
	// The estimate is a call a day: the first day is read alone, and how many days
	// later calls read together depends on how many chats the days hold.
	fmt.Fprintf(o.Out, "backfill of operation %s, %d day(s) from %s in %s: at most %d call(s), one a day; fewer where a call reads days together (up to 30 days and half of the 60,000-record answer), one more for each split of an answer cut at 60,000; at most %d allowed (--max-calls)\n",
		o.Operation.Name, days, next.Format(time.DateOnly), loc, days, maxCalls)
	if days > maxCalls {
		return sum, fmt.Errorf("%d day(s) may need %d calls, more than --max-calls %d (daily_quota %d less %d a day for live polling): backfill fewer days at a time, or raise --max-calls",
			days, days, maxCalls, o.Operation.DailyQuota, o.Operation.CallsPerDay())
	}

	client, err := wolkvox.NewClient(wolkvox.Options{
		BaseURL: o.Operation.URL(), Server: o.Operation.Server, Token: o.Operation.APIToken(), Location: loc,
		MaxResponseSize: int64(o.Operation.MaxResponseSize), UserAgent: o.UserAgent, Transport: o.Transport, RecordCap: o.RecordCap,
	})
	if err != nil {
		return sum, err
	}
	begun := time.Now()
	perRead := 1 // days read in one call; more once the days read show they fit
	for d := next; d.Before(end); {
		var bounds []time.Time // the days' starts, then the last one's stop
		for len(bounds) < perRead && d.Before(end) {
			bounds = append(bounds, d)
			_, d = wolkvox.Day(d, loc)
		}
		if end.Before(d) {
			d = end
		}
		bounds = append(bounds, d)
		clock := time.Now()
		read, calls, err := readDays(ctx, o, client, h, bounds, maxCalls-sum.Calls)
		sum.Calls += calls
		if err != nil {
			fmt.Fprintf(o.Out, "stopped at %s: %v\n%s holds the days before it; run the same command again to go on from there\n",
				bounds[0].Format(time.DateOnly), err, o.Output)
			return sum, fmt.Errorf("%w at %s: %w", ErrStopped, bounds[0].Format(time.DateOnly), err)
		}
		most := 0
		for i, hd := range read {
			if err := hd.Write(); err != nil {
				return sum, err
			}
			_, dayEnd := wolkvox.Day(bounds[i], loc)
			p.Next = dayEnd.In(loc).Format(time.DateOnly)
			if err := p.save(o.Output, out, h); err != nil {
				return sum, err
			}
			sum.Days++
			sum.Records += hd.Records
			sum.Chats += hd.Chats
			sum.AtDayEnd += hd.AtDayEnd
			most = max(most, hd.Records)
			readWith := fmt.Sprintf("%d call(s)", calls)
			if i > 0 {
				readWith = "read with " + bounds[0].Format(time.DateOnly)
			}
			fmt.Fprintf(o.Out, "%s  %d records  %d chats  %s  %s\n", bounds[i].Format(time.DateOnly), hd.Records, hd.Chats, readWith, time.Since(clock).Round(time.Millisecond))
		}
		// Days that would fill half an answer, within the API's 31-day window.
		perRead = min(maxDaysPerRead, max(1, recordCap(o)/2/max(most, 1)))
	}
	fmt.Fprintf(o.Out, "wrote %d day(s), %d chats (%d placed at their day's end: close time unknown or outside the day), %d call(s), in %s, to %s\n",
		sum.Days, sum.Chats, sum.AtDayEnd, sum.Calls, time.Since(begun).Round(time.Second), o.Output)
	fmt.Fprintf(o.Out, "next: promtool tsdb create-blocks-from openmetrics %s <data directory>\n", o.Output)
	return sum, nil
}

// maxDaysPerRead keeps a read within the API's 31-day window, whatever the days' lengths.
const maxDaysPerRead = 30

func recordCap(o Options) int {
	if o.RecordCap > 0 {
		return o.RecordCap
	}
	return wolkvox.RecordCap
}

// readDays reads consecutive days, bounds being their starts and the last one's
// stop, from the API: in one call, or split as the record cap demands, in at most
// budget calls.
func readDays(ctx context.Context, o Options, client *wolkvox.Client, h *collector.History, bounds []time.Time, budget int) ([]*collector.HistoryDay, int, error) {
	calls := 0
	start, stop := bounds[0], bounds[len(bounds)-1]
	for attempt := 0; ; attempt++ {
		days := make([]*collector.HistoryDay, len(bounds)-1)
		for i := range days {
			days[i] = h.Day(bounds[i], bounds[i+1])
		}
		add := func(r *wolkvox.Record) { collector.AddToDays(days, r) }
		from, span := start, time.Duration(0)
		var err error
		for err == nil && from.Before(stop) {
			to := stop.Add(-time.Second) // date_end covers its whole second
			if span > 0 && from.Add(span).Before(to) {
				to = from.Add(span)
			}
			if calls >= budget {
				return nil, calls, errors.New("the next call would pass --max-calls")
			}
			var ans wolkvox.Answer
			callCtx, cancel := context.WithTimeout(ctx, time.Duration(o.Operation.RequestTimeout))
			ans, err = client.Chats(callCtx, from, to, add)
			cancel()
			if !errors.Is(err, wolkvox.ErrNotSent) {
				calls++
			}
			switch {
			case err != nil:
			case ans.Truncated && to.Sub(from) >= 2*time.Minute:
				span = (to.Sub(from) / 2).Truncate(time.Second) // the chats read count once
			default:
				if ans.Truncated {
					fmt.Fprintf(o.Out, "%s: an answer was cut at the record cap even for a one-minute window: chats may be missing\n", from.Format(time.DateTime))
				}
				from = to.Add(time.Second)
			}
		}
		var we *wolkvox.Error
		switch {
		case err == nil:
			return days, calls, nil
		case errors.As(err, &we) && we.Result == wolkvox.ResultConcurrencyLimited && attempt < 3:
			// Another client of the token, such as the live exporter, is calling:
			// its call ends within request_timeout. The days are read again whole.
			select {
			case <-ctx.Done():
				return nil, calls, ctx.Err()
			case <-o.After(time.Duration(o.Operation.RequestTimeout)):
			}
		default:
			return nil, calls, err
		}
	}
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

func labelsText(labels []collector.Label) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l.Name + "=" + l.Value
	}
	return out
}

func progressPath(output string) string { return output + ".progress" }

// openOutput opens the output to go on writing it: a new one, or one a run stopped
// writing, whose progress file says where it stopped.
func openOutput(o Options, first time.Time) (*os.File, *progress, *collector.History, error) {
	loc := o.Operation.Location()
	p := &progress{Version: progressVersion, Operation: o.Operation.Name, From: first.In(loc).Format(time.DateOnly),
		Step: int64(o.Step / time.Second), Labels: labelsText(o.Labels), Next: first.In(loc).Format(time.DateOnly)}
	saved, err := os.ReadFile(progressPath(o.Output))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(o.Output); err == nil {
			return nil, nil, nil, fmt.Errorf("%s exists and holds no history this command can go on with (no %s): remove it or choose another --output",
				o.Output, filepath.Base(progressPath(o.Output)))
		}
	case err != nil:
		return nil, nil, nil, err
	default:
		var old progress
		if err := json.Unmarshal(saved, &old); err != nil || old.Version != progressVersion {
			return nil, nil, nil, fmt.Errorf("%s is not a backfill progress file this version reads: remove it and %s", progressPath(o.Output), o.Output)
		}
		if old.Operation != p.Operation || old.From != p.From || old.Step != p.Step || strings.Join(old.Labels, ",") != strings.Join(p.Labels, ",") {
			return nil, nil, nil, fmt.Errorf("%s holds the history of operation %s from %s, step %ds, labels %v: go on with the same --operation, --from, --step and --label, or choose another --output",
				o.Output, old.Operation, old.From, old.Step, old.Labels)
		}
		p = &old
	}
	f, err := os.OpenFile(o.Output, os.O_RDWR|os.O_CREATE, 0o644) //nolint:gosec // G302,G304: the operator names the output, which promtool must read
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--output: %w", err)
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
		return nil, nil, nil, fmt.Errorf("--output: %w", err)
	}
	h, err := collector.NewHistory(o.Operation, o.Histograms, o.Step, o.Labels, f)
	if err == nil && p.History != nil {
		err = h.Resume(p.History)
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, nil, err
	}
	return f, p, h, nil
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
func (p *progress) save(output string, out *os.File, h *collector.History) error {
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
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := progressPath(output) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save the progress: %w", err)
	}
	if err := os.Rename(tmp, progressPath(output)); err != nil {
		return fmt.Errorf("save the progress: %w", err)
	}
	return nil
}
