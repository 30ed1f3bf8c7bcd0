package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
)

// blocks writes each day as one Prometheus TSDB block, with the tsdb package that
// promtool writes blocks with. A block is written whole under a temporary name and
// renamed into place, so a kill never leaves half a block where Prometheus reads.
type blocks struct {
	dir     string
	logger  *slog.Logger       // the tsdb package's own lines
	written func(id ulid.ULID) // told of each block written
}

// Blocks is the output that writes each day as a TSDB block in dir, a Prometheus
// data directory; written is told of each block once it is in place. The tsdb
// package logs to logger, its info lines as debug ones; nil discards its lines.
func Blocks(dir string, logger *slog.Logger, written func(id ulid.ULID)) Output {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &blocks{dir: dir, logger: slog.New(quieter{logger.Handler()}), written: written}
}

// quieter makes info lines debug ones: the block writer tells at info of its head
// and WAL, which a block of history has none of, and of each block it writes, which
// the backfill tells of anyway.
type quieter struct{ slog.Handler }

func quieterLevel(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return q.Handler.Enabled(ctx, quieterLevel(l))
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	r.Level = quieterLevel(r.Level)
	return q.Handler.Handle(ctx, r)
}

func (q quieter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quieter{q.Handler.WithAttrs(attrs)}
}

func (q quieter) WithGroup(name string) slog.Handler { return quieter{q.Handler.WithGroup(name)} }

// samplesPerCommit bounds the samples an appender holds before they go to the
// block's head, as promtool does.
const samplesPerCommit = 5000

// blockDay is the block of one day while its samples are appended.
type blockDay struct {
	b       *blocks
	w       *tsdb.BlockWriter
	app     storage.AppenderV2
	pending int
	err     error // the first append or commit that failed
}

func (b *blocks) day(start, stop time.Time) (dayOutput, error) {
	// The block writer takes samples at most half its range before the latest one:
	// as promtool does, it is given twice the day, and the day fills the block.
	w, err := tsdb.NewBlockWriter(b.logger, b.dir, 2*stop.Sub(start).Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("block writer: %w", err)
	}
	return &blockDay{b: b, w: w, app: w.AppenderV2(context.Background())}, nil
}

// family needs nothing: a block has no metadata of its own.
func (d *blockDay) family(*tally.Family) {}

// blockSeries is the series of one series of a family: a counter's, or a
// histogram's buckets, count and sum, each with its reference once appended.
type blockSeries struct {
	d       *blockDay
	lines   []labels.Labels // a counter's one, or the buckets, then count and sum
	refs    []storage.SeriesRef
	counter bool
}

func (d *blockDay) series(f *tally.Family, values tally.Labels, target []Label, bounds []float64) seriesOutput {
	b := labels.NewBuilder(labels.EmptyLabels())
	for i, name := range f.LabelNames() {
		b.Set(name, values[i])
	}
	for _, l := range target {
		b.Set(l.Name, l.Value)
	}
	s := &blockSeries{d: d, counter: f.Kind == tally.Counter}
	line := func(name, le string) {
		b.Set(model.MetricNameLabel, name)
		b.Set("le", le) // "" removes it
		s.lines = append(s.lines, b.Labels())
	}
	if s.counter {
		line(f.Name, "")
	} else {
		for _, bound := range bounds {
			line(f.Name+"_bucket", formatLe(bound))
		}
		line(f.Name+"_bucket", "+Inf")
		line(f.Name+"_count", "")
		line(f.Name+"_sum", "")
	}
	s.refs = make([]storage.SeriesRef, len(s.lines))
	return s
}

// sample appends the series' value at a time, in milliseconds as Prometheus keeps it.
func (s *blockSeries) sample(c *tally.Cell, at time.Time) {
	ms := at.UnixMilli()
	if s.counter {
		s.append(0, ms, c.Sum)
		return
	}
	var running uint64
	for i, n := range c.Buckets {
		running += n
		s.append(i, ms, float64(running))
	}
	s.append(len(c.Buckets), ms, float64(c.Count))
	s.append(len(c.Buckets)+1, ms, c.Sum)
}

func (s *blockSeries) append(line int, ms int64, v float64) {
	d := s.d
	if d.err != nil {
		return
	}
	ref, err := d.app.Append(s.refs[line], s.lines[line], 0, ms, v, nil, nil, storage.AOptions{})
	if err != nil {
		d.err = fmt.Errorf("append to the block: %w", err)
		return
	}
	s.refs[line] = ref
	if d.pending++; d.pending >= samplesPerCommit {
		d.err = d.app.Commit()
		d.app, d.pending = d.w.AppenderV2(context.Background()), 0
	}
}

// end writes the day's block in place, and tells of it.
func (d *blockDay) end() (err error) {
	defer func() { err = errors.Join(err, d.w.Close()) }()
	if d.err == nil {
		d.err = d.app.Commit()
	}
	if d.err != nil {
		_ = d.app.Rollback() // the block is not written: nothing to keep
		return d.err
	}
	id, err := d.w.Flush(context.Background())
	if errors.Is(err, tsdb.ErrNoSeriesAppended) || err == nil && id == (ulid.ULID{}) {
		return nil // a day with no series: no block
	}
	if err != nil {
		return fmt.Errorf("write the block: %w", err)
	}
	if d.b.written != nil {
		d.b.written(id)
	}
	return nil
}
