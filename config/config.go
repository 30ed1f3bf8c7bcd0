// Package config loads, validates and reloads the exporter's YAML configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/units"
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
	Token           Secret            `yaml:"token,omitempty"`
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
	AgentMetrics    bool              `yaml:"agent_metrics"`
	Skills          map[string]string `yaml:"skills,omitempty"`
	// A pointer, because fmt prints unexported fields by reflection, bypassing
	// Secret's Format; a nested pointer prints as an address.
	resolvedToken    *Secret
	resolvedLocation *time.Location
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

// APIToken is the operation's token, read from token or token_file at load time.
func (o *Operation) APIToken() Secret {
	if o.resolvedToken == nil {
		return ""
	}
	return *o.resolvedToken
}

// Location is the operation's time zone, resolved at load time.
func (o *Operation) Location() *time.Location { return o.resolvedLocation }

// URL is the API base URL: base_url, or https://wv{server}.wolkvox.com.
func (o *Operation) URL() string {
	if o.BaseURL != "" {
		return strings.TrimRight(o.BaseURL, "/")
	}
	return "https://wv" + o.Server + ".wolkvox.com"
}

// CallsPerDay is the most API calls a day that min_interval allows.
func (o *Operation) CallsPerDay() int {
	return int(math.Ceil(float64(24*time.Hour) / float64(o.MinInterval)))
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

// Parse decodes strictly (unknown keys are errors) and validates.
func Parse(data []byte, dir string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := &Config{}
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: at least one operation is required")
		}
		// yaml names the Go type; users know only keys.
		return nil, errors.New(goTypeRE.ReplaceAllString(err.Error(), ""))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document")
	}
	if err := cfg.validate(dir); err != nil {
		return nil, err
	}
	return cfg, nil
}

var (
	goTypeRE = regexp.MustCompile(` in type [\w.]+`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	serverRE = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)
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
				return fmt.Errorf("operations[%d]: %w", i, err)
			}
			return fmt.Errorf("operation %q: %w", op.Name, err)
		}
		if seen[op.Name] {
			return fmt.Errorf("operation %q: the name is used twice", op.Name)
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
			return fmt.Errorf("histograms.%s: %w", h.key, err)
		}
	}
	return nil
}

func (o *Operation) validate(dir string) error {
	if !nameRE.MatchString(o.Name) {
		return fmt.Errorf("name %q must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", o.Name)
	}
	if !serverRE.MatchString(o.Server) {
		return fmt.Errorf("server %q must be the operation's server number: letters and digits only, e.g. \"0010\"", o.Server)
	}
	if err := o.resolveToken(dir); err != nil {
		return err
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("base_url %q must be an absolute http:// or https:// URL", o.BaseURL)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("base_url must not carry credentials, a query or a fragment")
		}
	}
	loc, err := time.LoadLocation(o.Timezone)
	if err != nil || o.Timezone == "" {
		return fmt.Errorf("timezone %q is not a known IANA time zone (e.g. America/Bogota)", o.Timezone)
	}
	o.resolvedLocation = loc
	switch {
	case time.Duration(o.MinInterval) < time.Second:
		return fmt.Errorf("min_interval %s must be at least 1s", o.MinInterval)
	case o.Overlap < 0:
		return fmt.Errorf("overlap %s must not be negative", o.Overlap)
	case time.Duration(o.Overlap) > 24*time.Hour:
		return fmt.Errorf("overlap %s must be at most 1d", o.Overlap)
	case o.RequestTimeout <= 0:
		return fmt.Errorf("request_timeout %s must be positive", o.RequestTimeout)
	case o.MaxCatchup < o.Overlap:
		return fmt.Errorf("max_catchup %s must be at least overlap %s", o.MaxCatchup, o.Overlap)
	case time.Duration(o.MaxCatchup) > MaxCatchupLimit:
		return fmt.Errorf("max_catchup %s must be at most %s", o.MaxCatchup, model.Duration(MaxCatchupLimit))
	case o.MaxBackoff < o.MinInterval:
		return fmt.Errorf("max_backoff %s must be at least min_interval %s", o.MaxBackoff, o.MinInterval)
	case o.DailyQuota < 1:
		return fmt.Errorf("daily_quota %d must be positive", o.DailyQuota)
	case o.MaxResponseSize < ByteSize(units.KiB):
		return fmt.Errorf("max_response_size %s must be at least 1KiB", o.MaxResponseSize)
	case o.MaxLabelValues < 1:
		return fmt.Errorf("max_label_values %d must be positive", o.MaxLabelValues)
	}
	for id, name := range o.Skills {
		if strings.TrimSpace(id) == "" || strings.TrimSpace(name) == "" {
			return fmt.Errorf("skills: id %q and name %q must both be non-empty", id, name)
		}
	}
	return nil
}

func (o *Operation) resolveToken(dir string) error {
	switch {
	case o.Token != "" && o.TokenFile != "":
		return errors.New("set token or token_file, not both")
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
			return fmt.Errorf("token_file: %w", err)
		}
		tok := Secret(strings.TrimSpace(string(data)))
		o.resolvedToken = &tok
		if tok == "" {
			return fmt.Errorf("token_file %s is empty", path)
		}
	}
	// The token travels in an HTTP header: refuse anything that could split it.
	for _, r := range o.APIToken().Reveal() {
		if r <= ' ' || r > '~' {
			return errors.New("the token holds whitespace or non-ASCII characters")
		}
	}
	return nil
}

// validateBudget refuses a config whose polling could spend a token's daily quota:
// operations sharing a token share its quota.
func (c *Config) validateBudget() error {
	type group struct {
		names []string
		calls int
		quota int
	}
	groups := map[Secret]*group{}
	var order []Secret
	for i := range c.Operations {
		op := &c.Operations[i]
		tok := op.APIToken()
		g, ok := groups[tok]
		if !ok {
			g = &group{quota: op.DailyQuota}
			groups[tok] = g
			order = append(order, tok)
		}
		g.names = append(g.names, op.Name)
		g.calls += op.CallsPerDay()
		g.quota = min(g.quota, op.DailyQuota)
	}
	for _, tok := range order {
		g := groups[tok]
		if g.calls <= g.quota {
			continue
		}
		if len(g.names) == 1 {
			least := time.Duration(math.Ceil(float64(24*time.Hour)/float64(g.quota)/float64(time.Second))) * time.Second
			return fmt.Errorf("operation %q: min_interval allows %d API calls per day (86400s / min_interval), more than daily_quota %d; set min_interval to at least %s",
				g.names[0], g.calls, g.quota, model.Duration(least))
		}
		sort.Strings(g.names)
		return fmt.Errorf("operations %s share one token and together may make %d API calls per day (86400s / min_interval, summed), more than daily_quota %d; raise their min_interval",
			strings.Join(quoteAll(g.names), ", "), g.calls, g.quota)
	}
	return nil
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

// UnmarshalYAML parses the size and says what went wrong.
func (b *ByteSize) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	v, err := units.ParseBase2Bytes(s)
	if err != nil {
		return fmt.Errorf("size %q needs a unit, e.g. 64MiB", s)
	}
	*b = ByteSize(v)
	return nil
}

// MarshalYAML writes the size with its unit.
func (b ByteSize) MarshalYAML() (any, error) { return units.Base2Bytes(b).String(), nil }

func (b ByteSize) String() string { return units.Base2Bytes(b).String() }
