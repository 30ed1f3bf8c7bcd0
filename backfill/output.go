package backfill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/durable"
)

// The formats of --format.
const (
	FormatBlocks      = "blocks"
	FormatOpenMetrics = "openmetrics"
)

// output is where a backfill's days go, and the progress that lets a later run go
// on from the first day not written.
type output interface {
	// progressPath is where the progress is saved.
	progressPath() string
	// open makes the output ready to take the days from p.Next, which starts at
	// next: a run stopped while writing a day leaves nothing of it.
	open(p *progress, next time.Time) (history.Output, error)
	// written makes the days written durable; the progress is saved after it.
	written(p *progress) error
	close() error
	// next says how to load what was written into Prometheus.
	next() string
}

func newOutput(o Options) output {
	if o.Format == FormatOpenMetrics {
		return &openMetricsFile{path: o.Output}
	}
	return &blockDir{dir: o.Output, logger: o.Logger}
}

const progressVersion = 2

// progress is saved beside the output after each day, so that a run can go on where
// one stopped.
type progress struct {
	Version   int      `json:"version"`
	Format    string   `json:"format"`
	Operation string   `json:"operation"`
	From      string   `json:"from"`
	Step      int64    `json:"step_seconds"`
	Labels    []string `json:"labels"`
	Next      string   `json:"next"` // the next day to read
	// SeededLive is where live counting began, in Unix seconds, when this history
	// left the state the exporter went on from (Store.Seed).
	SeededLive int64 `json:"seeded_live,omitempty"`
	// Written is the bytes of OpenMetrics output before its # EOF.
	Written int64           `json:"written,omitempty"`
	History json.RawMessage `json:"history"`
}

func labelsText(labels []history.Label) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l.Name + "=" + l.Value
	}
	return out
}

// readProgress reads the progress of the run that began the output, or starts one
// from the day first. It writes nothing.
func readProgress(o Options, out output, first string) (*progress, error) {
	p := &progress{Version: progressVersion, Format: o.Format, Operation: o.Operation.Name, From: first,
		Step: int64(o.Step / time.Second), Labels: labelsText(o.Labels), Next: first}
	saved, err := os.ReadFile(out.progressPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if used(o.Output) {
			return nil, fmt.Errorf("%s exists and holds no history this command can go on with (no %s): remove it or choose another --output",
				o.Output, filepath.Base(out.progressPath()))
		}
		return p, nil
	case err != nil:
		return nil, err
	}
	var old progress
	if err := json.Unmarshal(saved, &old); err != nil || old.Version != progressVersion {
		return nil, fmt.Errorf("%s is not a backfill progress file this version reads: remove it and %s", out.progressPath(), o.Output)
	}
	if old.Format != p.Format || old.Operation != p.Operation || old.From != p.From || old.Step != p.Step || strings.Join(old.Labels, ",") != strings.Join(p.Labels, ",") {
		return nil, fmt.Errorf("%s holds the %s history of operation %s from %s, step %ds, labels %v: go on with the same --format, --operation, --from, --step and --label, or choose another --output",
			o.Output, old.Format, old.Operation, old.From, old.Step, old.Labels)
	}
	return &old, nil
}

// used tells whether path is a file, or a directory with anything in it.
func used(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		return true
	}
	entries, err := os.ReadDir(path)
	return err != nil || len(entries) > 0
}

// saveProgress saves p durably, after what it describes was written.
func saveProgress(out output, p *progress, h *history.Writer) error {
	var err error
	if p.History, err = h.Progress(); err != nil {
		return err
	}
	err = durable.WriteFile(out.progressPath(), 0o600, func(w io.Writer) error { return json.NewEncoder(w).Encode(p) })
	if err != nil {
		return fmt.Errorf("save the progress: %w", err)
	}
	return nil
}

// blockDir writes a block a day into a directory that Prometheus can open as its
// data directory, or whose blocks can be moved into one.
type blockDir struct {
	dir    string
	logger *slog.Logger
}

func (b *blockDir) progressPath() string {
	return filepath.Join(b.dir, "wolkvox-backfill-progress.json")
}

// open creates the directory, or, going on, removes what a run killed after
// writing a day's block but before saving its progress left: blocks from p.Next on,
// which would be written again, and blocks half written.
func (b *blockDir) open(_ *progress, next time.Time) (history.Output, error) {
	if err := os.MkdirAll(b.dir, 0o755); err != nil { //nolint:gosec // G301: Prometheus, under a user of its own, reads the blocks
		return nil, fmt.Errorf("--output: %w", err)
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("--output: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(b.dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".tmp-for-creation"): // the tsdb package's name for a block being written
			err = os.RemoveAll(path)
		case isBlock(e):
			err = removeIfFrom(path, next)
		}
		if err != nil {
			return nil, fmt.Errorf("--output: %w", err)
		}
	}
	if err := durable.SyncDir(b.dir); err != nil {
		return nil, err
	}
	return history.Blocks(b.dir, b.logger, nil), nil
}

func isBlock(e fs.DirEntry) bool {
	_, err := ulid.ParseStrict(e.Name())
	return err == nil && e.IsDir()
}

// removeIfFrom removes the block at path if its samples start at from or later.
func removeIfFrom(path string, from time.Time) error {
	data, err := os.ReadFile(filepath.Join(path, "meta.json")) //nolint:gosec // G304: a block of the operator's --output
	if err != nil {
		return err
	}
	var meta struct {
		MinTime int64 `json:"minTime"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if meta.MinTime < from.UnixMilli() {
		return nil
	}
	return os.RemoveAll(path)
}

// written has nothing to do: each block is in place, durably, once written.
func (b *blockDir) written(*progress) error { return nil }

func (b *blockDir) close() error { return nil }

func (b *blockDir) next() string {
	return fmt.Sprintf("next: move the blocks of %s (its ULID-named directories) into the data directory of Prometheus (docs/history.md), or open it as one: prometheus --storage.tsdb.path=%s",
		b.dir, b.dir)
}

// openMetricsFile writes OpenMetrics text to a file, ending with # EOF after each
// day, so that the file is whole whenever a run stops.
type openMetricsFile struct {
	path string
	f    *os.File
}

func (o *openMetricsFile) progressPath() string { return o.path + ".progress" }

// open opens the file to go on writing it: what a run killed while writing a day
// left after the last day written is cut off, and the next day is written over the
// # EOF.
func (o *openMetricsFile) open(p *progress, _ time.Time) (history.Output, error) {
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_CREATE, 0o644) //nolint:gosec // G302,G304: the operator names the output, which promtool must read
	if err != nil {
		return nil, fmt.Errorf("--output: %w", err)
	}
	err = f.Truncate(p.Written)
	if err == nil {
		_, err = f.Seek(p.Written, io.SeekStart)
	}
	if err == nil {
		err = endOutput(f)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--output: %w", err)
	}
	o.f = f
	return history.OpenMetrics(f), nil
}

// written ends the file with # EOF, durably, and notes where the next day goes.
func (o *openMetricsFile) written(p *progress) error {
	at, err := o.f.Seek(0, io.SeekCurrent)
	if err == nil {
		err = endOutput(o.f)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	p.Written = at
	return nil
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

func (o *openMetricsFile) close() error {
	if o.f == nil {
		return nil
	}
	return o.f.Close()
}

func (o *openMetricsFile) next() string {
	return "next: promtool tsdb create-blocks-from openmetrics " + o.path + " <data directory>"
}

// format is the format o asks for: blocks unless it says otherwise. An output named
// as a file of text is refused without a format said: blocks go to a directory.
func format(o Options) (string, error) {
	switch o.Format {
	case FormatBlocks, FormatOpenMetrics:
		return o.Format, nil
	case "":
		if slices.Contains([]string{".om", ".txt", ".prom"}, filepath.Ext(o.Output)) {
			return "", fmt.Errorf("--output %s is named as a file of text, but history is written as Prometheus blocks, into a directory: choose a directory, or write OpenMetrics text with --format=%s",
				o.Output, FormatOpenMetrics)
		}
		return FormatBlocks, nil
	}
	return "", fmt.Errorf("--format %q is not %s or %s", o.Format, FormatBlocks, FormatOpenMetrics)
}
