package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"

	"github.com/wolkvox-exporter/wolkvox_exporter/backfill"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
)

// backfillCommand is the backfill command's flags.
type backfillCommand struct {
	cmd                                 *kingpin.CmdClause
	operation, from, to, output, format *string
	step                                *time.Duration
	labels                              *[]string
	maxCalls                            *int
	maxCallsSet                         bool
}

func addBackfillCommand(app *kingpin.Application) *backfillCommand {
	cmd := app.Command("backfill", "Write past days of the chat_1 report as Prometheus TSDB blocks, a block a day, the samples live counting would have exported. "+
		"With --storage.path, the history ends where the live exporter began counting: --to may then be today.")
	b := &backfillCommand{
		cmd:       cmd,
		operation: cmd.Flag("operation", "The operation, by its name in the configuration.").Required().String(),
		from:      cmd.Flag("from", "First day, YYYY-MM-DD, in the operation's time zone.").Required().String(),
		to:        cmd.Flag("to", "Last day, YYYY-MM-DD, included.").Required().String(),
		output:    cmd.Flag("output", "The directory to write the blocks into, usable as a Prometheus data directory (or the file, with --format=openmetrics); a run that stopped goes on with it.").Required().String(),
		format:    cmd.Flag("format", "blocks, or openmetrics: text for promtool tsdb create-blocks-from openmetrics, or to read.").PlaceHolder("blocks").Enum(backfill.FormatBlocks, backfill.FormatOpenMetrics),
		step:      cmd.Flag("step", "Time between two samples of a series.").Default("5m").Duration(),
		labels:    cmd.Flag("label", "A label name=value added to every series: the job and instance of the exporter's scrape, such as job=wolkvox and instance=host:19655, so that the history joins the live series. Repeatable.").Strings(),
		maxCalls:  cmd.Flag("max-calls", "Most API calls to make; by default the operation's daily_quota less what live polling spends in a day. 0 prints the plan and makes no call.").Int(),
	}
	cmd.GetFlag("max-calls").IsSetByUser(&b.maxCallsSet)
	return b
}

func (b *backfillCommand) run(load func() (*config.Config, error), storagePath string, logger log.Logger, slogger *slog.Logger) int {
	fail := func(err error) int {
		level.Error(logger).Log("msg", "backfill failed", "err", err)
		return 1
	}
	cfg, err := load()
	if err != nil {
		return fail(err)
	}
	i := slices.IndexFunc(cfg.Operations, func(op config.Operation) bool { return op.Name == *b.operation })
	if i < 0 {
		var names []string
		for _, op := range cfg.Operations {
			names = append(names, op.Name)
		}
		return fail(fmt.Errorf("--operation %q is not in the configuration, which has %s", *b.operation, strings.Join(names, ", ")))
	}
	var labels []history.Label
	for _, l := range *b.labels {
		name, value, ok := strings.Cut(l, "=")
		if !ok {
			return fail(fmt.Errorf("--label %q is not name=value", l))
		}
		labels = append(labels, history.Label{Name: name, Value: value})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = backfill.Run(ctx, backfill.Options{
		Operation: cfg.Operations[i], Histograms: cfg.Histograms,
		From: *b.from, To: *b.to, Output: *b.output, Format: *b.format, Step: *b.step, Labels: labels,
		MaxCalls: *b.maxCalls, DryRun: b.maxCallsSet && *b.maxCalls == 0,
		StoragePath: storagePath, UserAgent: programName + "/" + version.Version, Out: &logLines{logger: logger},
		Logger: slogger,
	})
	if errors.Is(err, backfill.ErrStopped) {
		return 1 // Run said why, and how to go on
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// logLines writes each line of the backfill's report as a line of the log: at warn
// level where it starts with "warning:", at info otherwise.
type logLines struct {
	logger  log.Logger
	pending []byte
}

func (l *logLines) Write(p []byte) (int, error) {
	l.pending = append(l.pending, p...)
	for {
		i := bytes.IndexByte(l.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.pending[:i])
		l.pending = l.pending[i+1:]
		if text, ok := strings.CutPrefix(line, "warning: "); ok {
			level.Warn(l.logger).Log("msg", text)
		} else {
			level.Info(l.logger).Log("msg", line)
		}
	}
}
