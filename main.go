// Command wolkvox_exporter exposes Wolkvox chat_1 report data as Prometheus metrics.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
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

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New(programName, "Prometheus exporter for the Wolkvox chat_1 report API.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	var (
		configFile    = app.Flag("config.file", "Path to the configuration file.").Default("config.yml").String()
		configCheck   = app.Flag("config.check", "Validate the configuration file, print the result and exit.").Bool()
		metricsPath   = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		storagePath   = app.Flag("storage.path", "Directory for each operation's state (counters, dedupe memory, query cursor), so counts continue exactly across restarts. Empty keeps state in memory only.").Default("").String()
		demo          = app.Flag("demo", "Run against an embedded simulated chat_1 API; no configuration or account needed.").Bool()
		demoClock     = app.Flag("demo.clock", "With --demo: the simulated time of day in America/Bogota at start, as HH:MM, or an RFC 3339 time. The demo's traffic follows the hour of the day; this shows a chosen hour's traffic whatever the wall clock says.").PlaceHolder("HH:MM").String()
		seriesHold    = app.Flag("collector.new-series-hold", "How long a label combination seen for the first time shows 0 before its counts, so that rate() and increase() count its first chats. At least the scrape interval; 0 disables.").Default(collector.DefaultNewSeriesHold.String()).Duration()
		timeoutOffset = app.Flag("scrape.timeout-offset", "Subtracted from the scraper's X-Prometheus-Scrape-Timeout-Seconds to get the time a scrape may wait for the API.").Default("500ms").Duration()
		logLevel      = app.Flag("log.level", "Only log messages with the given severity or above.").Default("info").Enum("debug", "info", "warn", "error")
		logFormat     = app.Flag("log.format", "Output format of log messages.").Default("logfmt").Enum("logfmt", "json")
		webFlags      = kingpinflag.AddFlags(app, defaultAddress)
	)
	app.Version(version.Print(programName))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return 2
	}

	logger, baseLogger := newLogger(stderr, *logLevel, *logFormat)
	load := func() (*config.Config, error) { return config.Load(*configFile) }
	if *demoClock != "" && !*demo {
		fmt.Fprintf(stderr, "%s: --demo.clock needs --demo\n", programName)
		return 2
	}
	if *demo {
		clock, err := parseDemoClock(*demoClock, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "%s: --demo.clock: %v\n", programName, err)
			return 2
		}
		baseURL, stop, err := simulator.Demo(demoSeed, clock)
		if err != nil {
			level.Error(logger).Log("msg", "cannot start the demo simulator", "err", err)
			return 1
		}
		defer stop()
		load = func() (*config.Config, error) { return demoConfig(baseURL) }
		keyvals := []any{"msg", "demo mode: querying the embedded chat_1 simulator", "url", baseURL}
		if !clock.IsZero() {
			keyvals = append(keyvals, "simulated_start", clock.Format(time.RFC3339))
		}
		level.Info(logger).Log(keyvals...)
	}

	if *configCheck {
		cfg, err := load()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", programName, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: configuration is valid: %d operation(s)\n", programName, len(cfg.Operations))
		return 0
	}

	level.Info(logger).Log("msg", "starting "+programName, "version", version.Info(), "build_context", version.BuildContext())
	if *storagePath != "" {
		if err := collector.PrepareStorage(*storagePath); err != nil {
			level.Error(logger).Log("msg", "cannot use the storage path", "err", err)
			return 1
		}
		level.Info(logger).Log("msg", "state is saved after every API call", "storage_path", *storagePath)
	} else {
		level.Info(logger).Log("msg", "no --storage.path: counts start from zero at every start")
	}
	coll := collector.New(logger,
		collector.WithUserAgent(programName+"/"+version.Version),
		collector.WithNewSeriesHold(*seriesHold),
		collector.WithStorage(*storagePath))
	if err := coll.Reload(load); err != nil {
		level.Error(logger).Log("msg", "cannot load configuration", "err", err)
		return 1
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		coll,
		versioncollector.NewCollector(programName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	reload := func(source string) error {
		err := coll.Reload(load)
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

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, promhttp.InstrumentMetricHandler(reg,
		collector.Handler(coll, reg, *timeoutOffset, promLogger{logger})))
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
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Wolkvox Exporter",
			Description: "Prometheus exporter for Wolkvox chat operations (chat_1 report API)",
			Version:     version.Info(),
			Profiling:   "false", // no pprof handlers are served
			Links: []web.LandingLinks{
				{Address: *metricsPath, Text: "Metrics"},
				{Address: "/config", Text: "Configuration", Description: "in force, tokens redacted"},
				{Address: "/-/healthy", Text: "Health"},
			},
		})
		if err != nil {
			level.Error(logger).Log("msg", "cannot build the landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}

	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// The slog bridge adds its own time and caller keys.
	slogger := slog.New(sloggokit.NewGoKitHandler(baseLogger, slogLevel(*logLevel)))
	for _, addr := range *webFlags.WebListenAddresses {
		if !strings.HasSuffix(addr, ":0") { // a random port shows in the "Listening on" line
			level.Info(logger).Log("msg", "serving metrics", "url", "http://"+displayAddr(addr)+*metricsPath)
		}
	}
	if err := web.ListenAndServe(server, webFlags, slogger); err != nil {
		level.Error(logger).Log("msg", "HTTP server stopped", "err", err)
		return 1
	}
	return 0
}

// newLogger returns the one log stream: go-kit, filtered by level. base has no time
// or caller keys, for the exporter-toolkit's slog bridge, which adds its own; logger
// adds them under the same names.
func newLogger(w io.Writer, lvl, format string) (logger, base log.Logger) {
	if format == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	base = level.NewFilter(base, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	return log.With(base, "time", log.DefaultTimestampUTC, "caller", log.DefaultCaller), base
}

func slogLevel(lvl string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(lvl)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// displayAddr turns ":19655" into "localhost:19655" for a clickable URL.
func displayAddr(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	return addr
}

// promLogger adapts go-kit to promhttp's error log.
type promLogger struct{ logger log.Logger }

func (l promLogger) Println(v ...any) {
	level.Error(l.logger).Log("msg", fmt.Sprint(v...))
}
