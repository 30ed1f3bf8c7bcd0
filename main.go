// Command wolkvox_exporter exposes Wolkvox chat_1 report data as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // operations name IANA zones; the container may have no zoneinfo

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/logtime"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

const (
	programName = "wolkvox_exporter"
	// defaultAddress is outside 9100-9999, a range fully taken by other exporters;
	// 9655 spells WOLK on a phone keypad.
	defaultAddress = ":19655"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the exporter's command-line flags.
type flags struct {
	configFile, metricsPath, storagePath, demoClock *string
	configCheck, demo                               *bool
	seriesHold, timeoutOffset                       *time.Duration
	maxRequests                                     *int
	logLevel, logFormat                             *string
	web                                             *web.FlagConfig
	// demoNote describes the demo's traffic once it runs; "" outside demo mode.
	demoNote string
}

func newApp(stdout, stderr io.Writer) (*kingpin.Application, *flags, *backfillCommand) {
	app := kingpin.New(programName, "Prometheus exporter for Wolkvox chat operations: the chat_1 report, and the real-time APIs. Serving the metrics is the default command, "+
		"whose flags may be given without naming it; try it with --demo, which needs no configuration, and open http://localhost:19655/.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	// Flags of every command on the application; the server's on serve, the default
	// command, whose flags may be given without naming it.
	serveCmd := app.Command("serve", "Serve the metrics; the default command.").Default()
	f := &flags{
		configFile:    app.Flag("config.file", "Path to the configuration file.").Default("config.yml").String(),
		storagePath:   app.Flag("storage.path", "Directory for each operation's state (counters, dedupe memory, query cursor), so counts continue exactly across restarts. Empty keeps state in memory only.").Default("").String(),
		demo:          app.Flag("demo", "Run against embedded, simulated Wolkvox APIs; no configuration or account needed.").Bool(),
		demoClock:     app.Flag("demo.clock", "With --demo: replay the demo's traffic from this time of day in America/Bogota, as HH:MM or an RFC 3339 time, instead of the wall clock's (\"wall\", the default). The traffic follows the hour of the day, busy in office hours and quiet at night; a replayed clock shifts the demo's past with it.").PlaceHolder("HH:MM").Default("wall").String(),
		logLevel:      app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn or error.").Default("info").Enum("debug", "info", "warn", "error"),
		logFormat:     app.Flag("log.format", "Output format of log messages: logfmt or json.").Default("logfmt").Enum("logfmt", "json"),
		configCheck:   serveCmd.Flag("config.check", "Validate the configuration file, print the result and exit.").Bool(),
		metricsPath:   serveCmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String(),
		seriesHold:    serveCmd.Flag("collector.new-series-hold", "How long a label combination seen for the first time shows 0 before its counts, so that rate() and increase() count its first chats. At least the scrape interval; 0 disables.").Default(collector.DefaultNewSeriesHold.String()).Duration(),
		timeoutOffset: serveCmd.Flag("scrape.timeout-offset", "Subtracted from the scraper's X-Prometheus-Scrape-Timeout-Seconds to get the time a scrape may wait for the API.").Default("500ms").Duration(),
		maxRequests:   serveCmd.Flag("web.max-requests", "Maximum number of parallel scrape requests. Use 0 to disable.").Default("40").Int(),
		web:           kingpinflag.AddFlags(serveCmd, defaultAddress),
	}
	backfillCmd := addBackfillCommand(app)
	app.Version(version.Print(programName))
	app.HelpFlag.Short('h')
	return app, f, backfillCmd
}

// usageFor makes --help list every command with its flags, the server's too, the
// default's; the help of one command, named in args, lists its own.
func usageFor(app *kingpin.Application, args []string) {
	for _, cmd := range app.Model().Commands {
		if cmd.Name != "help" && slices.Contains(args, cmd.Name) {
			return
		}
	}
	app.UsageTemplate(kingpin.LongHelpTemplate)
}

func run(args []string, stdout, stderr io.Writer) int {
	if info, ok := debug.ReadBuildInfo(); ok {
		fillVersion(info)
	}
	app, f, backfillCmd := newApp(stdout, stderr)
	usageFor(app, args)
	command, err := app.Parse(args)
	if err != nil {
		// The flags are not read: the log's format is the one asked for, if it was.
		format := "logfmt"
		for i, a := range args {
			if a == "--log.format=json" || a == "--log.format" && i+1 < len(args) && args[i+1] == "json" {
				format = "json"
			}
		}
		logger, _ := newLogger(stderr, "info", format)
		level.Error(logger).Log("msg", "bad command line", "err", err, "help", programName+" --help lists the commands and their flags")
		return 2
	}
	logger, slogger := newLogger(stderr, *f.logLevel, *f.logFormat)
	load, stop, code := f.source(logger)
	if code != 0 {
		return code
	}
	defer stop()
	load = withWarnings(load, func(w string) { level.Warn(logger).Log("msg", w) })
	switch {
	case command == backfillCmd.cmd.FullCommand():
		return backfillCmd.run(load, *f.storagePath, logger, slogger)
	case *f.configCheck:
		cfg, err := load()
		if err != nil {
			level.Error(logger).Log("msg", "the configuration is not valid", "file", *f.configFile, "err", err)
			return 1
		}
		level.Info(logger).Log("msg", "configuration is valid", "file", *f.configFile, "operations", len(cfg.Operations))
		return 0
	}
	return serve(f, load, logger, slogger)
}

// withWarnings is load that reports what the configuration it loads allows but
// should not.
func withWarnings(load func() (*config.Config, error), report func(string)) func() (*config.Config, error) {
	return func() (*config.Config, error) {
		cfg, err := load()
		if err == nil {
			for _, w := range cfg.Warnings() {
				report(w)
			}
		}
		return cfg, err
	}
}

// source returns how to load the configuration: from --config.file, or the demo's,
// whose simulator it starts; stop ends it. A code other than 0 is the exit code of
// a failure, already reported.
func (f *flags) source(logger log.Logger) (load func() (*config.Config, error), stop func(), code int) {
	load = func() (*config.Config, error) {
		cfg, err := config.Load(*f.configFile)
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: give the configuration with --config.file (config.example.yml documents every key), or try the exporter with --demo, which needs none", err)
		}
		return cfg, err
	}
	if *f.demoClock != "wall" && !*f.demo {
		level.Error(logger).Log("msg", "--demo.clock needs --demo")
		return nil, nil, 2
	}
	if !*f.demo {
		return load, func() {}, 0
	}
	clock, err := parseDemoClock(*f.demoClock, time.Now())
	if err != nil {
		level.Error(logger).Log("msg", "bad --demo.clock", "err", err)
		return nil, nil, 2
	}
	baseURL, stop, err := simulator.Demo(demoSeed, clock)
	if err != nil {
		level.Error(logger).Log("msg", "cannot start the demo simulator", "err", err)
		return nil, nil, 1
	}
	keyvals := []any{"msg", "demo mode: querying the embedded simulator of the Wolkvox APIs", "url", baseURL}
	f.demoNote = "Its traffic follows the hour of the day in Bogota, as the wall clock says: busy in office hours, quiet at night. " +
		"Its past is the same at every start, so a backfilled history of the demo joins it."
	if !clock.IsZero() {
		f.demoNote = "Its traffic replays a simulated clock that started at " + logtime.Format(clock) +
			" (--demo.clock); its past is shifted with it."
		keyvals = append(keyvals, "simulated_start", logtime.Format(clock),
			"note", "the traffic replays this simulated clock, and its past is shifted with it")
	}
	level.Info(logger).Log(keyvals...)
	return func() (*config.Config, error) { return demoConfig(baseURL) }, stop, 0
}

// serve runs the exporter until its server stops.
func serve(f *flags, load func() (*config.Config, error), logger log.Logger, slogger *slog.Logger) int {
	level.Info(logger).Log("msg", "starting "+programName, "version", version.Info(), "build_context", version.BuildContext())
	coll, err := startCollector(f, load, logger)
	if err != nil {
		return 1
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		coll,
		versioncollector.NewCollector(programName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	home, err := newLanding(*f.metricsPath, f.demoNote, coll.Config())
	if err != nil {
		level.Error(logger).Log("msg", "cannot build the landing page", "err", err)
		return 1
	}
	reload := func(source string) error {
		err := coll.Reload(load)
		if err == nil {
			err = home.build(coll.Config())
		}
		if err != nil {
			level.Error(logger).Log("msg", "configuration reload failed; keeping the last good one", "source", source, "err", err)
			return err
		}
		level.Info(logger).Log("msg", "configuration reloaded", "source", source)
		return nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = reload("SIGHUP")
		}
	}()
	server := &http.Server{Handler: newMux(f, coll, reg, home, reload, logger), ReadHeaderTimeout: 10 * time.Second}
	stopOnSignal(server, logger)
	return listenAndServe(f, server, logger, slogger)
}

// shutdownTimeout bounds how long a stop waits for the scrapes being served.
const shutdownTimeout = 10 * time.Second

// stopOnSignal stops the server on SIGTERM (systemctl stop, docker stop) or SIGINT
// (Ctrl-C), and says so: the saved state is whole at every moment, so nothing else
// needs doing.
func stopOnSignal(server *http.Server, logger log.Logger) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		sig := <-stop
		level.Info(logger).Log("msg", "shutting down: stopped by a signal", "signal", sig)
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := server.Shutdown(ctx); err != nil {
			level.Warn(logger).Log("msg", "scrapes still running at shutdown were cut", "err", err)
		}
	}()
}

// startCollector prepares the storage and loads the configuration into a new
// collector; a failure is logged.
func startCollector(f *flags, load func() (*config.Config, error), logger log.Logger) (*collector.Collector, error) {
	if *f.storagePath != "" {
		if err := poller.PrepareStorage(*f.storagePath); err != nil {
			level.Error(logger).Log("msg", "cannot use the storage path", "err", err)
			return nil, err
		}
		level.Info(logger).Log("msg", "state is saved after every API call", "storage_path", *f.storagePath)
	} else {
		level.Info(logger).Log("msg", "no --storage.path: counts start from zero at every start")
	}
	coll := collector.New(logger,
		collector.WithUserAgent(programName+"/"+version.Version),
		collector.WithNewSeriesHold(*f.seriesHold),
		collector.WithStorage(*f.storagePath))
	if err := coll.Reload(load); err != nil {
		level.Error(logger).Log("msg", "cannot load configuration", "err", err)
		return nil, err
	}
	return coll, nil
}

// newMux routes the exporter's endpoints.
func newMux(f *flags, coll *collector.Collector, reg *prometheus.Registry, home http.Handler, reload func(source string) error, logger log.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(*f.metricsPath, promhttp.InstrumentMetricHandler(reg,
		collector.Handler(coll, reg, *f.timeoutOffset, promhttp.HandlerOpts{
			ErrorLog:            promLogger{logger},
			ErrorHandling:       promhttp.ContinueOnError, // a scrape serves what it could gather
			Registry:            reg,                      // promhttp_metric_handler_errors_total
			MaxRequestsInFlight: *f.maxRequests,
			EnableOpenMetrics:   true,
		})))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Ready") })
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := reload("HTTP"); err != nil {
			http.Error(w, fmt.Sprintf("reload failed, the last good configuration stays in force: %v", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	})
	mux.HandleFunc("/config", func(w http.ResponseWriter, _ *http.Request) {
		out, err := coll.Config().Dump()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(out)
	})
	mux.Handle(statusPath, status(coll, *f.metricsPath))
	if *f.metricsPath != "/" {
		mux.Handle("/", home)
	}
	return mux
}

// listenAndServe serves on every address until the server stops, with the
// exporter-toolkit, which logs where it listens.
func listenAndServe(f *flags, server *http.Server, logger log.Logger, slogger *slog.Logger) int {
	if err := web.Validate(*f.web.WebConfigFile); err != nil {
		level.Error(logger).Log("msg", "bad --web.config.file", "file", *f.web.WebConfigFile, "err", err)
		return 1
	}
	if err := checkAddresses(*f.web.WebListenAddresses); err != nil {
		level.Error(logger).Log("msg", "cannot listen", "err", err)
		return 1
	}
	err := web.ListenAndServe(server, f.web, slogger)
	msg := "HTTP server stopped"
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "listen" {
		msg = "cannot listen"
		if errors.Is(err, syscall.EADDRINUSE) && oe.Addr != nil {
			err = fmt.Errorf("address %s is already in use by another process (another exporter?): stop it, or choose another address with --web.listen-address", oe.Addr)
		}
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Error(logger).Log("msg", msg, "err", err)
		return 1
	}
	level.Info(logger).Log("msg", "stopped")
	return 0
}

// checkAddresses names an address given twice with --web.listen-address, or taken
// by a wildcard address given beside it on the same port, before any is listened on.
func checkAddresses(addrs []string) error {
	for i, addr := range addrs {
		_, port, _ := net.SplitHostPort(addr)
		for _, other := range addrs[:i] {
			if other == addr {
				return fmt.Errorf("address %s is given twice with --web.listen-address: give each address once", addr)
			}
			host, otherPort, _ := net.SplitHostPort(other)
			if otherPort == port && port != "0" && (host == "" || net.ParseIP(host).IsUnspecified()) {
				return fmt.Errorf("address %s is already taken by %s, also given with --web.listen-address, which listens on every interface: give one of them", addr, other)
			}
		}
	}
	return nil
}

// newLogger returns the one log stream: go-kit, filtered by level, each line's keys
// level, time and caller first. slogger writes to it for the libraries that log
// with slog (exporter-toolkit, the TSDB writer), so that their lines are in the same
// format, with the same keys in the same order.
func newLogger(w io.Writer, lvl, format string) (logger log.Logger, slogger *slog.Logger) {
	var base log.Logger
	if format == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	base = level.NewFilter(base, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	timed := log.With(base, "time", logtime.Timestamp)
	// The slog bridge writes level, caller, time and msg, its time with nanoseconds:
	// its lines take our time and order instead.
	bridge := log.LoggerFunc(func(keyvals ...any) error {
		var lvlValue, caller any
		rest := make([]any, 0, len(keyvals))
		for i := 0; i+1 < len(keyvals); i += 2 {
			switch keyvals[i] {
			case level.Key():
				lvlValue = keyvals[i+1]
			case "caller":
				caller = keyvals[i+1]
			case slog.TimeKey:
			default:
				rest = append(rest, keyvals[i], keyvals[i+1])
			}
		}
		return log.WithPrefix(timed, level.Key(), lvlValue).Log(append([]any{"caller", caller}, rest...)...)
	})
	var slogLevel slog.Level
	if err := slogLevel.UnmarshalText([]byte(lvl)); err != nil {
		slogLevel = slog.LevelInfo
	}
	return log.With(timed, "caller", log.DefaultCaller), slog.New(sloggokit.NewGoKitHandler(bridge, slogLevel))
}

// fillVersion completes what release ldflags left unset, from what go records in
// the binary: the module version of go install ...@v1.2.0 (a build from a checkout
// is "devel"), and the commit time of a build in a git checkout. The revision
// comes from there already (prometheus/common/version).
func fillVersion(info *debug.BuildInfo) {
	if version.Version == "" {
		v := strings.TrimPrefix(info.Main.Version, "v")
		if v == "" || v == "(devel)" {
			v = "devel"
		}
		version.Version = v
	}
	if version.BuildDate == "" {
		for _, s := range info.Settings {
			if s.Key == "vcs.time" {
				version.BuildDate = s.Value
			}
		}
	}
}

// promLogger adapts go-kit to promhttp's error log.
type promLogger struct{ logger log.Logger }

func (l promLogger) Println(v ...any) {
	level.Error(l.logger).Log("msg", fmt.Sprint(v...))
}
