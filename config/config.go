// Package config loads, validates and reloads the exporter's YAML configuration.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Vendor limits of the chat_1 API (API.md).
const (
	// VendorDailyQuota is the calls allowed per licence per day.
	VendorDailyQuota = 1000
	// VendorMaxResponseSize is the largest answer the API sends.
	VendorMaxResponseSize = ByteSize(256 * units.MiB)
)

// DefaultMaxSeries bounds the chat series of an operation: about 150 channel and
// skill pairs, each with its histograms, feelings, last participants and
// dispositions, in about 1.5 MB of /metrics.
const DefaultMaxSeries = 10000

// MaxCatchupLimit bounds max_catchup: the dedupe memory and the first call after a
// long outage grow with it.
const MaxCatchupLimit = 90 * 24 * time.Hour

// Config is the whole configuration file.
type Config struct {
	Operations []Operation `yaml:"operations"`
	Histograms Histograms  `yaml:"histograms"`
}

// Operation is one Wolkvox operation (tenant) to query.
type Operation struct {
	Name            string            `yaml:"name"`
	Server          string            `yaml:"server"`
	Token           promconfig.Secret `yaml:"token,omitempty"`
	TokenFile       string            `yaml:"token_file,omitempty"`
	BaseURL         string            `yaml:"base_url,omitempty"`
	Timezone        string            `yaml:"timezone"`
	MinInterval     model.Duration    `yaml:"min_interval"`
	Overlap         model.Duration    `yaml:"overlap"`
	RequestTimeout  model.Duration    `yaml:"request_timeout"`
	MaxCatchup      model.Duration    `yaml:"max_catchup"`
	MaxBackoff      model.Duration    `yaml:"max_backoff"`
	DailyQuota      int               `yaml:"daily_quota"`
	MaxResponseSize ByteSize          `yaml:"max_response_size"`
	MaxLabelValues  int               `yaml:"max_label_values"`
	MaxSeries       int               `yaml:"max_series"`
	AgentMetrics    bool              `yaml:"agent_metrics"`
	Skills          map[string]string `yaml:"skills,omitempty"`
	Reconcile       Reconcile         `yaml:"reconcile"`
	Realtime        Realtime          `yaml:"realtime"`
	// A pointer, because fmt prints unexported fields by reflection: a nested
	// pointer prints as an address.
	resolvedToken    *promconfig.Secret
	resolvedLocation *time.Location
	warnings         []string // what validation found unsafe, though usable
}

// Reconcile is the daily re-read: once a local day is over and After has passed,
// the exporter reads the part of it that it counted again, and counts the chats
// live polling missed.
type Reconcile struct {
	Enabled bool           `yaml:"enabled"`
	After   model.Duration `yaml:"after"`
}

// Realtime is the calls of Wolkvox's real-time APIs, which say what is open now: at
// most one call of each API an Interval, made when /metrics is scraped. Without an
// Interval, none is made.
type Realtime struct {
	Interval model.Duration `yaml:"interval,omitempty"`
	// APIs are the real-time APIs called: RealtimeChats, RealtimeAgents, or both,
	// the default.
	APIs []string `yaml:"apis,omitempty"`
}

// The real-time APIs, as realtime.apis names them (their api parameter).
const (
	RealtimeChats  = "chats"
	RealtimeAgents = "agents"
)

// RealtimeAPIs are the real-time APIs there are, in the order they are called.
var RealtimeAPIs = []string{RealtimeChats, RealtimeAgents}

// Enabled tells whether any real-time call is made.
func (r Realtime) Enabled() bool { return r.Interval > 0 }

// CallsPerDay is the most real-time calls a day: one per API an interval.
func (r Realtime) CallsPerDay() int {
	if !r.Enabled() {
		return 0
	}
	return len(r.APIs) * callsIn(time.Duration(r.Interval))
}

// Histograms holds bucket upper bounds, in seconds.
type Histograms struct {
	AnswerDelay []float64 `yaml:"answer_delay"`
	Duration    []float64 `yaml:"duration"`
	HandleTime  []float64 `yaml:"handle_time"`
}

// DefaultOperation holds the defaults of every operation key.
var DefaultOperation = Operation{
	Timezone:        "America/Bogota",
	MinInterval:     model.Duration(5 * time.Minute),
	Overlap:         model.Duration(10 * time.Minute),
	RequestTimeout:  model.Duration(55 * time.Second),
	MaxCatchup:      model.Duration(24 * time.Hour),
	MaxBackoff:      model.Duration(time.Hour),
	DailyQuota:      VendorDailyQuota,
	MaxResponseSize: VendorMaxResponseSize,
	MaxLabelValues:  100,
	MaxSeries:       DefaultMaxSeries,
	Reconcile:       Reconcile{Enabled: true, After: model.Duration(2 * time.Hour)},
}

// DefaultHistograms are chosen for chat service: answer-delay bounds include the usual
// service-level thresholds (20 s, 30 s); duration reaches past the ~23 h timeout close.
var DefaultHistograms = Histograms{
	AnswerDelay: []float64{5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600},
	Duration:    []float64{60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 28800, 43200, 86400},
	HandleTime:  []float64{30, 60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 7200},
}

// UnmarshalYAML sets defaults before decoding, so absent keys keep them.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Config{Histograms: DefaultHistograms}
	type plain Config
	return unmarshal((*plain)(c))
}

// UnmarshalYAML sets defaults before decoding, so absent keys keep them.
func (o *Operation) UnmarshalYAML(unmarshal func(any) error) error {
	*o = DefaultOperation
	type plain Operation
	return unmarshal((*plain)(o))
}

// UnmarshalYAML keeps the default of each histogram that the file leaves out.
func (h *Histograms) UnmarshalYAML(unmarshal func(any) error) error {
	*h = DefaultHistograms
	type plain Histograms
	return unmarshal((*plain)(h))
}

// Warnings lists what the configuration allows but should not: each a sentence
// that names the operation and the fix.
func (c *Config) Warnings() []string {
	var out []string
	for _, op := range c.Operations {
		out = append(out, op.warnings...)
	}
	return out
}

// Format prints the operation as its YAML, the token redacted: printed field by
// field, a token given inline would show.
func (o Operation) Format(f fmt.State, _ rune) {
	out, err := yaml.Marshal(o)
	if err != nil {
		out = []byte("operation " + o.Name)
	}
	_, _ = f.Write(out)
}

// APIToken is the operation's token, read from token or token_file at load time.
func (o *Operation) APIToken() promconfig.Secret {
	if o.resolvedToken == nil {
		return ""
	}
	return *o.resolvedToken
}

// Location is the operation's time zone, resolved at load time. An Operation built
// in code has its timezone, or the default one, read when asked; one that does not
// read is UTC.
func (o *Operation) Location() *time.Location {
	if o.resolvedLocation != nil {
		return o.resolvedLocation
	}
	name := cmp.Or(o.Timezone, DefaultOperation.Timezone)
	if loc, err := location(name); err == nil {
		return loc
	}
	return time.UTC
}

// URL is the API base URL: base_url, or https://wv{server}.wolkvox.com.
func (o *Operation) URL() string {
	if o.BaseURL != "" {
		return strings.TrimRight(o.BaseURL, "/")
	}
	return "https://wv" + o.Server + ".wolkvox.com"
}

// CallsPerDay is the most API calls a day: those min_interval allows, the daily
// re-read's call, and the real-time calls.
func (o *Operation) CallsPerDay() int {
	return o.chat1CallsPerDay() + o.rereadCallsPerDay() + o.Realtime.CallsPerDay()
}

// chat1CallsPerDay is the most live chat_1 calls a day.
func (o *Operation) chat1CallsPerDay() int { return callsIn(time.Duration(o.MinInterval)) }

func (o *Operation) rereadCallsPerDay() int {
	if o.Reconcile.Enabled {
		return 1
	}
	return 0
}

// callsIn is how many calls a day one every interval makes at most.
func callsIn(interval time.Duration) int {
	return int(math.Ceil(float64(24*time.Hour) / float64(interval)))
}

// Load reads, decodes and validates the file at path. Relative token_file paths are
// resolved against the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file (--config.file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes strictly (unknown keys are errors) and validates. Errors name the
// key at fault, and its line where the file sets it.
func Parse(data []byte, dir string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := &Config{}
	// The file as a tree, to find the line of a key (a syntax error shows below).
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	if errs := durationErrors(&root, reflect.TypeFor[Config]()); len(errs) > 0 {
		return nil, describeDecodeErrors(&root, &yaml.TypeError{Errors: errs})
	}
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: at least one operation is required")
		}
		if te, ok := errors.AsType[*yaml.TypeError](err); ok {
			return nil, describeDecodeErrors(&root, te)
		}
		return nil, errors.New(goTypeRE.ReplaceAllString(err.Error(), ""))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document")
	}
	if err := cfg.validate(dir); err != nil {
		if ke, ok := errors.AsType[*keyError](err); ok {
			if line := lineOf(&root, ke.path); line > 0 {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
		}
		return nil, err
	}
	return cfg, nil
}

var (
	goTypeRE = regexp.MustCompile(` in type [\w.]+`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	serverRE = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)
	// hostServerRE matches the host, or its wv prefix, where the number belongs.
	hostServerRE = regexp.MustCompile(`(?i)^(?:https?://)?wv([a-z0-9]{1,16})(?:\.wolkvox\.com)?/?$`)
)

func (c *Config) validate(dir string) error {
	if len(c.Operations) == 0 {
		return errors.New("operations: at least one operation is required")
	}
	seen := map[string]bool{}
	for i := range c.Operations {
		op := &c.Operations[i]
		if err := op.validate(dir); err != nil {
			if op.Name == "" {
				return under(fmt.Errorf("operations[%d]: %w", i, err), "operations", i)
			}
			return under(fmt.Errorf("operation %q: %w", op.Name, err), "operations", i)
		}
		if seen[op.Name] {
			return under(keyErrorf("name", "operation %q: the name is used twice", op.Name), "operations", i)
		}
		seen[op.Name] = true
	}
	if err := c.validateBudget(); err != nil {
		return err
	}
	for _, h := range []struct {
		key     string
		buckets []float64
	}{
		{"answer_delay", c.Histograms.AnswerDelay},
		{"duration", c.Histograms.Duration},
		{"handle_time", c.Histograms.HandleTime},
	} {
		if err := validateBuckets(h.buckets); err != nil {
			return &keyError{path: []any{"histograms", h.key}, err: fmt.Errorf("histograms.%s: %w", h.key, err)}
		}
	}
	return nil
}

func (o *Operation) validate(dir string) error {
	if !nameRE.MatchString(o.Name) {
		return keyErrorf("name", "name %q must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", o.Name)
	}
	if number := hostServerRE.FindStringSubmatch(o.Server); number != nil {
		return keyErrorf("server", "server %q is the API host's name, not the server number: set server: %q (the host is wv{server}.wolkvox.com)", o.Server, number[1])
	}
	if !serverRE.MatchString(o.Server) {
		return keyErrorf("server", "server %q must be the operation's server number: letters and digits only, e.g. \"0010\"", o.Server)
	}
	if err := o.resolveToken(dir); err != nil {
		return err
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return keyErrorf("base_url", "base_url %q must be an absolute http:// or https:// URL", o.BaseURL)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return keyErrorf("base_url", "base_url must not carry credentials, a query or a fragment")
		}
	}
	loc, err := location(o.Timezone)
	if err != nil {
		return keyErrorf("timezone", "timezone %q is neither a known IANA time zone (e.g. America/Bogota) nor an offset from UTC (e.g. -05:00)", o.Timezone)
	}
	o.resolvedLocation = loc
	switch {
	case time.Duration(o.MinInterval) < time.Second:
		return keyErrorf("min_interval", "min_interval %s must be at least 1s", o.MinInterval)
	case o.Overlap < 0:
		return keyErrorf("overlap", "overlap %s must not be negative", o.Overlap)
	case time.Duration(o.Overlap) > 24*time.Hour:
		return keyErrorf("overlap", "overlap %s must be at most 1d", o.Overlap)
	case o.RequestTimeout <= 0:
		return keyErrorf("request_timeout", "request_timeout %s must be positive", o.RequestTimeout)
	case o.MaxCatchup < o.Overlap:
		return keyErrorf("max_catchup", "max_catchup %s must be at least overlap %s", o.MaxCatchup, o.Overlap)
	case time.Duration(o.MaxCatchup) > MaxCatchupLimit:
		return keyErrorf("max_catchup", "max_catchup %s must be at most %s", o.MaxCatchup, model.Duration(MaxCatchupLimit))
	case o.MaxBackoff < o.MinInterval:
		return keyErrorf("max_backoff", "max_backoff %s must be at least min_interval %s", o.MaxBackoff, o.MinInterval)
	case o.DailyQuota < 1:
		return keyErrorf("daily_quota", "daily_quota %d must be positive", o.DailyQuota)
	case o.MaxResponseSize < ByteSize(units.KiB):
		return keyErrorf("max_response_size", "max_response_size %s must be at least 1KiB", o.MaxResponseSize)
	case o.MaxLabelValues < 1:
		return keyErrorf("max_label_values", "max_label_values %d must be positive", o.MaxLabelValues)
	case o.MaxSeries < 1:
		return keyErrorf("max_series", "max_series %d must be positive", o.MaxSeries)
	case o.Reconcile.After < 0 || time.Duration(o.Reconcile.After) >= 24*time.Hour:
		return &keyError{path: []any{"reconcile", "after"}, err: fmt.Errorf("reconcile.after %s must be at least 0 and less than 1d", o.Reconcile.After)}
	case o.Reconcile.Enabled && o.Reconcile.After >= o.MaxCatchup:
		return &keyError{path: []any{"reconcile", "after"}, err: fmt.Errorf("reconcile.after %s must be less than max_catchup %s: a day is not read again once it is older", o.Reconcile.After, o.MaxCatchup)}
	}
	for id, name := range o.Skills {
		if strings.TrimSpace(id) == "" || strings.TrimSpace(name) == "" {
			return keyErrorf("skills", "skills: id %q and name %q must both be non-empty", id, name)
		}
	}
	return o.Realtime.validate()
}

func (r *Realtime) validate() error {
	switch {
	case r.Interval < 0 || r.Interval > 0 && time.Duration(r.Interval) < time.Second:
		return &keyError{path: []any{"realtime", "interval"}, err: fmt.Errorf("realtime.interval %s must be at least 1s", r.Interval)}
	case r.Interval == 0 && r.APIs != nil:
		return &keyError{path: []any{"realtime", "apis"}, err: errors.New("realtime.apis needs realtime.interval: without it no real-time call is made")}
	case r.Interval == 0:
		return nil
	case r.APIs == nil:
		r.APIs = slices.Clone(RealtimeAPIs)
		return nil
	case len(r.APIs) == 0:
		return &keyError{path: []any{"realtime", "apis"}, err: fmt.Errorf("realtime.apis is empty: name %s, or remove realtime.interval to make no real-time call", strings.Join(RealtimeAPIs, " or "))}
	}
	for i, api := range r.APIs {
		if !slices.Contains(RealtimeAPIs, api) {
			return &keyError{path: []any{"realtime", "apis", i}, err: fmt.Errorf("realtime.apis: %q is not a real-time API: use %s", api, strings.Join(RealtimeAPIs, " or "))}
		}
		if slices.Contains(r.APIs[:i], api) {
			return &keyError{path: []any{"realtime", "apis", i}, err: fmt.Errorf("realtime.apis names %q twice", api)}
		}
	}
	return nil
}

func (o *Operation) resolveToken(dir string) error {
	switch {
	case o.Token != "" && o.TokenFile != "":
		return keyErrorf("token_file", "set token or token_file, not both")
	case o.Token == "" && o.TokenFile == "":
		return errors.New("token or token_file is required")
	case o.Token != "":
		tok := o.Token
		o.resolvedToken = &tok
	default:
		path := o.TokenFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the file (token_file)
		if err != nil {
			// The OS error names the file only, never its content.
			return &keyError{path: []any{"token_file"}, err: fmt.Errorf("token_file: %w", err)}
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o007 != 0 {
			o.warnings = append(o.warnings, fmt.Sprintf(
				"operation %q: token_file %s has mode %#o, which lets every user of the machine who can reach its directory open it: make it readable by the exporter's user only, e.g. chmod 0600, or 0640 with the exporter's group",
				o.Name, path, fi.Mode().Perm()))
		}
		tok := promconfig.Secret(strings.TrimSpace(string(data)))
		o.resolvedToken = &tok
		if tok == "" {
			return keyErrorf("token_file", "token_file %s is empty", path)
		}
	}
	// The token travels in an HTTP header: refuse anything that could split it.
	for _, r := range string(o.APIToken()) {
		if r <= ' ' || r > '~' {
			key := "token"
			if o.TokenFile != "" {
				key = "token_file"
			}
			return keyErrorf(key, "the token holds whitespace or non-ASCII characters")
		}
	}
	return nil
}

// offsetRE is a fixed offset from UTC: -05:00, +05:45.
var offsetRE = regexp.MustCompile(`^([+-])([01][0-9]|2[0-3]):([0-5][0-9])$`)

// location reads timezone: an IANA name, or a fixed offset from UTC such as -05:00
// (the vendor says report dates are GMT-5).
func location(name string) (*time.Location, error) {
	if m := offsetRE.FindStringSubmatch(name); m != nil {
		hours, _ := strconv.Atoi(m[2])
		minutes, _ := strconv.Atoi(m[3])
		offset := hours*3600 + minutes*60
		if m[1] == "-" {
			offset = -offset
		}
		return time.FixedZone("UTC"+name, offset), nil
	}
	if name == "" {
		return nil, errors.New("empty")
	}
	return time.LoadLocation(name)
}

// validateBudget refuses a config whose polling could spend a token's daily quota:
// operations sharing a token share its quota, and every call of every API costs one.
func (c *Config) validateBudget() error {
	type group struct {
		names    []string
		first    int // index of the first operation
		calls    int
		chat1    int // calls of live chat_1 polling
		rereads  int // calls of the daily re-reads
		realtime int // real-time calls
		quota    int
	}
	groups := map[promconfig.Secret]*group{}
	var order []promconfig.Secret
	for i := range c.Operations {
		op := &c.Operations[i]
		tok := op.APIToken()
		g, ok := groups[tok]
		if !ok {
			g = &group{quota: op.DailyQuota, first: i}
			groups[tok] = g
			order = append(order, tok)
		}
		g.names = append(g.names, op.Name)
		g.calls += op.CallsPerDay()
		g.chat1 += op.chat1CallsPerDay()
		g.rereads += op.rereadCallsPerDay()
		g.realtime += op.Realtime.CallsPerDay()
		g.quota = min(g.quota, op.DailyQuota)
	}
	for _, tok := range order {
		g := groups[tok]
		if g.calls <= g.quota {
			continue
		}
		if len(g.names) == 1 && g.realtime > 0 {
			return c.realtimeBudgetError(g.first, g.calls, g.chat1, g.rereads, g.realtime, g.quota)
		}
		// The shortest interval that fits, each operation polling alike, as a person would write it.
		fits := roundUpInterval(time.Duration(len(g.names)) * 24 * time.Hour / time.Duration(max(g.quota-g.rereads-g.realtime, 1)))
		if len(g.names) == 1 {
			return &keyError{path: []any{"operations", g.first, "min_interval"}, err: fmt.Errorf(
				"operation %q: min_interval allows %d API calls per day (86400s / min_interval, and the daily re-read), more than daily_quota %d: set min_interval to %s or more, or raise daily_quota if the licence allows more calls a day",
				g.names[0], g.calls, g.quota, formatInterval(fits))}
		}
		sort.Strings(g.names)
		summed := "86400s / min_interval and the daily re-read, summed"
		fix := "give each a min_interval of " + formatInterval(fits) + " or more"
		if g.realtime > 0 {
			summed = fmt.Sprintf("86400s / min_interval, the daily re-read and %d real-time calls (realtime), summed", g.realtime)
			if g.quota-g.rereads-g.realtime < len(g.names) {
				fix = "make realtime.interval longer or call fewer realtime.apis"
			} else {
				fix += ", a longer realtime.interval, fewer realtime.apis"
			}
		}
		return fmt.Errorf("operations %s share one token and together may make %d API calls per day (%s), more than daily_quota %d: %s, or raise daily_quota if the licence allows more calls a day",
			strings.Join(quoteAll(g.names), ", "), g.calls, summed, g.quota, fix)
	}
	return nil
}

// realtimeBudgetError says why operation i, whose real-time calls are on, could
// spend more than its quota, with the arithmetic, and what would fit.
func (c *Config) realtimeBudgetError(i, calls, chat1, rereads, realtime, quota int) error {
	op := &c.Operations[i]
	apis := len(op.Realtime.APIs)
	sum := fmt.Sprintf("%d for chat_1 (86400s / min_interval %s)", chat1, op.MinInterval)
	if rereads > 0 {
		sum += fmt.Sprintf(", %d for the daily re-read", rereads)
	}
	sum += fmt.Sprintf(" and %d for realtime (86400s / realtime.interval %s, for each of %d API(s))", realtime, op.Realtime.Interval, apis)
	fix := "raise daily_quota if the licence allows more calls a day"
	if left := quota - chat1 - rereads; left >= apis {
		fix = fmt.Sprintf("set realtime.interval to %s or more, call fewer realtime.apis, or %s",
			formatInterval(roundUpInterval(time.Duration(apis)*24*time.Hour/time.Duration(left))), fix)
	} else {
		fix = "make a longer min_interval, call fewer realtime.apis, or " + fix
	}
	return &keyError{path: []any{"operations", i, "realtime", "interval"}, err: fmt.Errorf(
		"operation %q: may make %d API calls per day, more than daily_quota %d: %s: %s", op.Name, calls, quota, sum, fix)}
}

// niceIntervals are the polling intervals people write, shortest first.
var niceIntervals = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second,
	30 * time.Second, 45 * time.Second, time.Minute, 90 * time.Second, 2 * time.Minute, 3 * time.Minute,
	4 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour,
}

// roundUpInterval is the first nice interval at least d, or d in whole minutes.
func roundUpInterval(d time.Duration) time.Duration {
	for _, n := range niceIntervals {
		if n >= d {
			return n
		}
	}
	return (d + time.Minute - 1).Truncate(time.Minute)
}

// formatInterval writes d as min_interval would be written: 90s, 2m, 1h.
func formatInterval(d time.Duration) string {
	switch {
	case d%time.Minute != 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Hour != 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func validateBuckets(b []float64) error {
	if len(b) == 0 {
		return errors.New("at least one bucket bound is required")
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return fmt.Errorf("bound %v must be a positive finite number of seconds", v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("bounds must be strictly increasing, %v follows %v", v, b[i-1])
		}
	}
	return nil
}

// Dump renders the config as YAML with every token redacted.
func (c *Config) Dump() ([]byte, error) {
	return yaml.Marshal(c)
}

// ByteSize is a size with a unit, such as 64MiB or 256MB (both powers of 1024).
type ByteSize units.Base2Bytes

// UnmarshalYAML parses the size, or says on which line it cannot.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := units.ParseBase2Bytes(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return lineError(n, "size %q needs a unit, e.g. 64MiB", n.Value)
	}
	*b = ByteSize(v)
	return nil
}

// MarshalYAML writes the size with its unit.
func (b ByteSize) MarshalYAML() (any, error) { return units.Base2Bytes(b).String(), nil }

func (b ByteSize) String() string { return units.Base2Bytes(b).String() }
