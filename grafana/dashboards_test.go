package grafana_test

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
)

// Structural checks of the dashboards' JSON, for what a supervisor reading them in
// Grafana 12 needs. The queries themselves run against Prometheus in the e2e
// package's TestEndToEndWithPrometheus.

// grafanaSchemaVersion is the dashboard schema of Grafana 12, the last of the
// classic JSON model.
const grafanaSchemaVersion = 42

// The dashboards are in Grafana 12's schema, and their day is the operation's: the
// time zone of a configuration that names none.
func TestDashboardsSchemaAndTimeZone(t *testing.T) {
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"1\"\n    token: t\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	zone := cfg.Operations[0].Timezone
	for _, d := range grafanatest.Dashboards(t, "") {
		if v, _ := d.JSON["schemaVersion"].(float64); v != grafanaSchemaVersion {
			t.Errorf("%s: schemaVersion %v, want %d", d.File, v, grafanaSchemaVersion)
		}
		if tz := d.JSON["timezone"]; tz != zone {
			t.Errorf("%s: time zone %v, want the operations' default %s, so that 'today' is the report's day", d.File, tz, zone)
		}
	}
}

// Where Grafana's header puts a panel's title, estimated for the 1600 px wide window
// of grafanatest.PanelWidth. In the header, a title character is at most 8 px wide
// (14 px Inter, medium weight); a time label such as "Last 1 hour" is a 16 px clock
// icon, a 4 px gap and 7 px a character (12 px text), 8 px from the title; the
// header keeps 16 px of padding on each side and 32 px for the menu shown on hover.
const (
	titleCharWidth    = 8.0
	timeLabelCharW    = 7.0
	timeLabelIcon     = 16.0 + 4.0 + 8.0
	headerPadding     = 2 * 16.0
	headerMenuReserve = 32.0
)

// timeLabels are the labels Grafana shows for a panel's relative time.
var timeLabels = map[string]string{"1h": "Last 1 hour", "24h": "Last 24 hours", "now/d": "Today so far"}

// Each title, with its time label, fits its panel's header at 1600 px.
func TestPanelTitlesFit(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		w, _ := p.Get("gridPos", "w").(float64)
		need := float64(len([]rune(p.Str("title"))))*titleCharWidth + headerPadding + headerMenuReserve
		label := ""
		if from := p.Str("timeFrom"); from != "" {
			label = timeLabels[from]
			if label == "" {
				t.Errorf("%s: timeFrom %q has no known label", p, from)
			}
			need += timeLabelIcon + float64(len(label))*timeLabelCharW
		}
		if have := grafanatest.PanelWidth(w); need > have {
			t.Errorf("%s: title and time label %q need %.0f px, the panel is %.0f px wide at %v px", p, label, need, have, grafanatest.WindowWidth)
		}
	}
}

// A title cut after 20 characters still tells the panels apart.
func TestPanelTitlesUnique(t *testing.T) {
	for _, d := range grafanatest.Dashboards(t, "") {
		seen := map[string]string{}
		for _, p := range d.Panels {
			title := []rune(p.Str("title"))
			key := strings.ToLower(string(title[:min(20, len(title))]))
			if other, dup := seen[key]; dup {
				t.Errorf("%s: %q and %q begin alike: %q", d.File, other, string(title), key)
			}
			seen[key] = string(title)
		}
	}
}

// Units: Grafana's own where it has one (durations in s, or m where a query gives
// minutes, which grow with the value: "15 s", "2 hour"), a suffix only where it has
// none. Stats set their decimals. Charts leave theirs to Grafana, which takes a
// tick's decimals from the spacing of the ticks, so that no two ticks of an axis
// read alike (a fixed 1 decimal wrote 0.0 min, 0.0 min, 0.1 min). Shares run from 0%
// to 100%.
var (
	statUnits  = []string{"none", "percentunit", "s", "m"}
	chartUnits = []string{"none", "percentunit", "s", "m", "suffix:/h", "suffix: chars"}
)

func TestPanelUnitsAndDecimals(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		unit := p.Str("fieldConfig", "defaults", "unit")
		_, fixed := p.Get("fieldConfig", "defaults", "decimals").(float64)
		switch p.Str("type") {
		case "timeseries":
			if fixed {
				t.Errorf("%s: a chart that fixes its decimals can write two ticks alike", p)
			}
			if !slices.Contains(chartUnits, unit) {
				t.Errorf("%s: unit %q on a chart; use one of %v", p, unit, chartUnits)
			}
			if unit == "percentunit" && (p.Get("fieldConfig", "defaults", "min") != 0.0 || p.Get("fieldConfig", "defaults", "max") != 1.0) {
				t.Errorf("%s: a share's axis runs from %v to %v, not 0%% to 100%%", p, p.Get("fieldConfig", "defaults", "min"), p.Get("fieldConfig", "defaults", "max"))
			}
		case "stat", "gauge", "bargauge", "table":
			if !fixed {
				t.Errorf("%s: no decimals set", p)
			}
			if !slices.Contains(statUnits, unit) {
				t.Errorf("%s: unit %q; use one of %v", p, unit, statUnits)
			}
		}
		if strings.HasPrefix(unit, "dt") {
			t.Errorf("%s: unit %q writes durations like a stopwatch", p, unit)
		}
	}
}

var rateRE = regexp.MustCompile(`\b(rate|irate|increase|deriv|resets)\(`)

// Rates and shares are over the Window variable: auto by default, growing with the
// time range and never under an hour, so that a quiet night still holds chats. No
// chart has a minimum interval, which would hold its last point back, and each rate
// panel's description says how its window is chosen. A stat, gauge, list or table,
// whose instant query Grafana evaluates at now rounded down to the panel's step,
// asks for a step of a second.
func TestRatePanelsUseTheWindow(t *testing.T) {
	for _, d := range grafanatest.Dashboards(t, "") {
		for _, p := range d.Panels {
			if p.Str("type") != "timeseries" {
				if p.Get("interval") != "1s" || p.Get("maxDataPoints") != 100000.0 {
					t.Errorf("%s: interval %v and maxDataPoints %v: Grafana evaluates it up to a step before now", p, p.Get("interval"), p.Get("maxDataPoints"))
				}
				continue
			}
			if p.Get("interval") != nil {
				t.Errorf("%s: a minimum interval (%v) holds the last point back by up to as much", p, p.Get("interval"))
			}
			uses := false
			for _, tg := range p.Targets() {
				if rateRE.MatchString(tg.Expr) {
					uses = true
					if strings.Count(tg.Expr, "[$window]") != len(rateRE.FindAllString(tg.Expr, -1)) {
						t.Errorf("%s: a rate not over [$window]: %s", p, tg.Expr)
					}
				}
			}
			if uses && !strings.Contains(p.Str("description"), "Window ($window)") {
				t.Errorf("%s: its description does not explain the window", p)
			}
		}
		found := false
		for _, v := range grafanatest.Dig(d.JSON, "templating", "list").([]any) {
			if grafanatest.Dig(v, "name") != "window" {
				continue
			}
			found = true
			if grafanatest.Dig(v, "type") != "interval" || grafanatest.Dig(v, "auto") != true || grafanatest.Dig(v, "auto_min") != "1h" || grafanatest.Dig(v, "current", "text") != "auto" {
				t.Errorf("%s: the window variable is not an interval, auto by default, at least 1h: %v", d.File, v)
			}
		}
		if !found {
			t.Errorf("%s: no window variable", d.File)
		}
	}
}

// A value over a window shows the window: a stat or list whose query spans $__range
// has a relative time, which Grafana shows beside the title; "today" says whose day.
func TestWindowedPanelsShowTheirWindow(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		spans := false
		for _, tg := range p.Targets() {
			spans = spans || strings.Contains(tg.Expr, "$__range")
		}
		switch {
		case spans && (p.Str("timeFrom") == "" || p.Get("hideTimeOverride") == true):
			t.Errorf("%s: its query spans $__range but the panel shows no time label", p)
		case p.Str("timeFrom") == "now/d" && !strings.Contains(p.Str("description"), "time zone"):
			t.Errorf("%s: a 'today' panel whose description does not say whose day", p)
		}
	}
}

// A count over a window is the counters' exact difference, as the report would
// count: increase() extrapolates to the window's edges and gives 41.7 chats.
func TestWindowedCountsAreExact(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		for _, tg := range p.Targets() {
			if strings.Contains(tg.Expr, "$__range") && strings.Contains(tg.Expr, "increase(") {
				t.Errorf("%s: increase() over $__range is not the report's count: %s", p, tg.Expr)
			}
			// A restart in the window leaves the counter below its peak: the peak
			// counts what came before it.
			if strings.Contains(tg.Expr, "offset $__range") && !strings.Contains(tg.Expr, "max_over_time(") {
				t.Errorf("%s: a difference over $__range that a counter's restart breaks: %s", p, tg.Expr)
			}
		}
	}
}

// A chart broken down by channel does not hide the total: channels are lines, not
// stacked and not filled, and the total is a wider line. (A stat of open chats by
// channel stands beside the stat of their total.)
func TestChannelBreakdownKeepsTheTotal(t *testing.T) {
	checked := 0
	for _, p := range grafanatest.AllPanels(t) {
		if p.Str("type") != "timeseries" {
			continue
		}
		perChannel, total := false, false
		for _, tg := range p.Targets() {
			perChannel = perChannel || tg.Legend == "{{channel}}"
			total = total || strings.HasPrefix(tg.Legend, "Total")
		}
		if !perChannel {
			continue
		}
		checked++
		if !total {
			t.Errorf("%s: channels without their total", p)
		}
		if mode := p.Str("fieldConfig", "defaults", "custom", "stacking", "mode"); mode != "none" {
			t.Errorf("%s: channels stacked (%s) over the total", p, mode)
		}
		if fill, _ := p.Get("fieldConfig", "defaults", "custom", "fillOpacity").(float64); fill != 0 {
			t.Errorf("%s: lines filled (%v), which hides what is under them", p, fill)
		}
		wide := false
		overrides, _ := p.Get("fieldConfig", "overrides").([]any)
		for _, o := range overrides {
			if strings.HasPrefix(grafanatest.Dig(o, "matcher", "options").(string), "Total") {
				props, _ := grafanatest.Dig(o, "properties").([]any)
				for _, prop := range props {
					wide = wide || grafanatest.Dig(prop, "id") == "custom.lineWidth"
				}
			}
		}
		if !wide {
			t.Errorf("%s: the total is not wider than the channels' lines", p)
		}
	}
	if checked == 0 {
		t.Error("no panel breaks a quantity down by channel")
	}
}

// A line summing the selected channels says which: never "all channels", and beside
// per-channel lines its legend names the selection.
func TestLegendsNameTheSelection(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		perChannel := false
		for _, tg := range p.Targets() {
			perChannel = perChannel || strings.Contains(tg.Legend, "{{channel}}")
		}
		for _, tg := range p.Targets() {
			if strings.Contains(strings.ToLower(tg.Legend), "all channels") {
				t.Errorf("%s: legend %q", p, tg.Legend)
			}
			if perChannel && !strings.Contains(tg.Legend, "{{channel}}") && !strings.Contains(tg.Legend, "${channel:text}") {
				t.Errorf("%s: the total beside per-channel lines is %q, which does not name the selected channels (${channel:text})", p, tg.Legend)
			}
		}
	}
}

// The values a label shows: the API's (normalized as the exporter writes them),
// "other" where max_series folds, "unknown" where the API sent none.
var knownLabelValues = map[string][]string{
	"channel":          {"whatsapp", "web", "facebook", "instagram", "other", "unknown"},
	"feeling":          {"very_negative", "negative", "neutral", "positive", "very_positive", "unknown"},
	"last_participant": {"agent", "customer", "chatbot", "other", "unknown"},
}

var exactLabelRE = regexp.MustCompile(`\b(channel|feeling|last_participant)="(\w+)"`)

// fixedColour is the colour an override of p fixes for the series named name, or "".
func fixedColour(p grafanatest.DashboardPanel, name string) string {
	overrides, _ := p.Get("fieldConfig", "overrides").([]any)
	for _, o := range overrides {
		id, _ := grafanatest.Dig(o, "matcher", "id").(string)
		opt, _ := grafanatest.Dig(o, "matcher", "options").(string)
		matches := id == "byName" && opt == name
		if id == "byRegexp" {
			re, err := regexp.Compile("^(?:" + opt + ")$")
			matches = err == nil && re.MatchString(name)
		}
		if !matches {
			continue
		}
		props, _ := grafanatest.Dig(o, "properties").([]any)
		for _, prop := range props {
			if grafanatest.Dig(prop, "id") == "color" && grafanatest.Dig(prop, "value", "mode") == "fixed" {
				c, _ := grafanatest.Dig(prop, "value", "fixedColor").(string)
				return c
			}
		}
	}
	return ""
}

// Each channel, feeling and last participant has one fixed colour, the same in every
// panel of a dashboard, whatever the selection.
func TestLabelColoursAreFixed(t *testing.T) {
	for _, d := range grafanatest.Dashboards(t, "") {
		colours := map[string]string{} // label=value -> colour
		for _, p := range d.Panels {
			for _, tg := range p.Targets() {
				type shown struct{ label, value, name string }
				var series []shown
				for label, values := range knownLabelValues {
					if strings.Contains(tg.Legend, "{{"+label+"}}") {
						for _, v := range values {
							series = append(series, shown{label, v, strings.ReplaceAll(tg.Legend, "{{"+label+"}}", v)})
						}
					}
				}
				if m := exactLabelRE.FindAllStringSubmatch(tg.Expr, -1); len(m) == 1 && !strings.Contains(tg.Legend, "{{") {
					series = append(series, shown{m[0][1], m[0][2], tg.Legend})
				}
				for _, s := range series {
					c := fixedColour(p, s.name)
					if c == "" {
						t.Errorf("%s: no fixed colour for %s=%s (series %q)", p, s.label, s.value, s.name)
						continue
					}
					key := s.label + "=" + s.value
					if prev, ok := colours[key]; ok && prev != c {
						t.Errorf("%s: %s is %s here and %s elsewhere", p, key, c, prev)
					}
					colours[key] = c
				}
			}
		}
	}
}

// hue of a #rrggbb colour in degrees, and its saturation (0 to 1).
func hue(t *testing.T, hex string) (h, s float64) {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q is not #rrggbb", hex)
	}
	r, g, b := float64(v>>16&0xff)/255, float64(v>>8&0xff)/255, float64(v&0xff)/255
	hi, lo := max(r, g, b), min(r, g, b)
	if hi == lo {
		return 0, 0
	}
	switch hi {
	case r:
		h = math.Mod((g-b)/(hi-lo), 6)
	case g:
		h = (b-r)/(hi-lo) + 2
	default:
		h = (r-g)/(hi-lo) + 4
	}
	return math.Mod(h*60+360, 360), (hi - lo) / hi
}

// Feelings stack in their order, very negative to very positive, on a diverging
// palette: reds for negative, a grey for neutral, greens for positive. No panel
// splits feelings by a query, which would stack them in alphabetical order.
func TestSentimentOrderAndPalette(t *testing.T) {
	order := knownLabelValues["feeling"][:5]
	checked := 0
	for _, p := range grafanatest.AllPanels(t) {
		var feelings []string
		for _, tg := range p.Targets() {
			if strings.Contains(tg.Expr, "by (feeling)") || strings.Contains(tg.Legend, "{{feeling}}") {
				t.Errorf("%s: feelings split by the query stack alphabetically", p)
			}
			if m := regexp.MustCompile(`feeling="(\w+)"`).FindStringSubmatch(tg.Expr); m != nil {
				feelings = append(feelings, m[1])
			}
		}
		if len(feelings) == 0 {
			continue
		}
		checked++
		if !slices.Equal(feelings[:min(5, len(feelings))], order) {
			t.Errorf("%s: feelings in the order %v, want %v first", p, feelings, order)
		}
		for i, tg := range p.Targets()[:min(5, len(p.Targets()))] {
			h, s := hue(t, fixedColour(p, tg.Legend))
			var ok bool
			switch i {
			case 0, 1:
				ok = s > 0.4 && (h < 30 || h > 340)
			case 2:
				ok = s < 0.15
			default:
				ok = s > 0.4 && h > 80 && h < 160
			}
			if !ok {
				t.Errorf("%s: %s is hue %.0f, saturation %.2f: not on the red-grey-green palette", p, feelings[i], h, s)
			}
		}
	}
	if checked == 0 {
		t.Error("no panel shows the sentiment mix by feeling")
	}
}

// A per-skill panel draws one line a skill, named "skill <name>" so that a skill
// named by a number does not read as a value, in a legend that lists them all.
func TestSkillPanelsAreReadable(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		for _, tg := range p.Targets() {
			if !strings.Contains(tg.Legend, "{{skill}}") && !regexp.MustCompile(`by \([^)]*\bskill\b`).MatchString(tg.Expr) {
				continue
			}
			if n := len(p.Targets()); n != 1 {
				t.Errorf("%s: %d queries split by skill draw %d lines a skill", p, n, n)
			}
			if !strings.HasPrefix(tg.Legend, "skill {{skill}}") {
				t.Errorf("%s: legend %q does not name the skill as one", p, tg.Legend)
			}
			if p.Str("options", "legend", "displayMode") != "table" || p.Str("options", "legend", "placement") != "right" {
				t.Errorf("%s: a per-skill legend is a table on the right, so that every skill is listed", p)
			}
		}
	}
}

// Ranked lists leave out what has none, and give long names a line of their own.
func TestBarListsSkipZerosAndFitNames(t *testing.T) {
	for _, p := range grafanatest.AllPanels(t) {
		if p.Str("type") != "bargauge" {
			continue
		}
		for _, tg := range p.Targets() {
			if !regexp.MustCompile(`>\s*0\s*\)*\s*$`).MatchString(tg.Expr) {
				t.Errorf("%s: zeros are listed: %s", p, tg.Expr)
			}
			if strings.Count(tg.Legend, "{{") > 1 && p.Str("options", "namePlacement") != "top" {
				t.Errorf("%s: names of two labels %q are cut beside the bars; place them on top", p, tg.Legend)
			}
		}
	}
}

// Calls by result are drawn side by side: stacking errors with no calls on top of
// successes makes the successes' edge read as errors.
func TestResultsAreNotStacked(t *testing.T) {
	checked := 0
	for _, p := range grafanatest.AllPanels(t) {
		for _, tg := range p.Targets() {
			if !regexp.MustCompile(`by \([^)]*\bresult\b`).MatchString(tg.Expr) {
				continue
			}
			checked++
			if mode := p.Str("fieldConfig", "defaults", "custom", "stacking", "mode"); mode != "none" {
				t.Errorf("%s: results stacked (%s)", p, mode)
			}
			if !strings.HasSuffix(strings.TrimSpace(tg.Expr), "> 0") {
				t.Errorf("%s: results with no calls are drawn: %s", p, tg.Expr)
			}
		}
	}
	if checked == 0 {
		t.Error("no panel shows calls by result")
	}
}

// Build information is a table of its labels, not a stat of a count.
func TestVersionIsATable(t *testing.T) {
	found := false
	for _, p := range grafanatest.AllPanels(t) {
		for _, tg := range p.Targets() {
			if !strings.Contains(tg.Expr, "wolkvox_exporter_build_info") {
				continue
			}
			found = true
			raw, _ := p.Get("targets").([]any)
			if p.Str("type") != "table" || grafanatest.Dig(raw[0], "format") != "table" {
				t.Errorf("%s: a %s of build_info shows its labels as a dump", p, p.Str("type"))
			}
		}
	}
	if !found {
		t.Error("no panel shows the exporter's version")
	}
}

// Chat length leaves out chats closed by timeout, which last a day; a panel of those
// counts them apart.
func TestChatLengthLeavesOutTimeouts(t *testing.T) {
	apart := false
	for _, p := range grafanatest.AllPanels(t) {
		for _, tg := range p.Targets() {
			if !strings.Contains(tg.Expr, "wolkvox_chat_duration_seconds") {
				continue
			}
			switch {
			case strings.Contains(tg.Expr, `timed_out="true"`):
				apart = true
			case !strings.Contains(tg.Expr, `timed_out="false"`):
				t.Errorf("%s: chat length mixes in chats closed by timeout: %s", p, tg.Expr)
			}
		}
	}
	if !apart {
		t.Error("no panel shows the chats closed by timeout apart")
	}
}

// nowPanels are the supervisors' "Now" row, by title.
var nowPanels = []string{"Chats open now", "Open now by channel", "Oldest open chat", "Agents by state", "Read ago"}

// The "Now" row shows nothing when real-time calls are off or stale, and each of its
// panels says so and how to turn them on.
func TestNowPanelsSayHowToTurnThemOn(t *testing.T) {
	found := 0
	for _, p := range grafanatest.AllPanels(t) {
		if !slices.Contains(nowPanels, p.Str("title")) {
			continue
		}
		found++
		if !strings.Contains(p.Str("fieldConfig", "defaults", "noValue"), "realtime.interval") {
			t.Errorf("%s: with nothing to show it shows %q, which does not name realtime.interval", p, p.Str("fieldConfig", "defaults", "noValue"))
		}
		if !strings.Contains(p.Str("description"), "realtime: {interval: 5m}") {
			t.Errorf("%s: its description does not say how to turn real-time calls on", p)
		}
	}
	if found != len(nowPanels) {
		t.Errorf("found %d of the %d Now panels", found, len(nowPanels))
	}
}
