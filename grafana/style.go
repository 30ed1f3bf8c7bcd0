package grafana

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The look of the dashboards: each panel kind, unit and colour written once.

// The units: Grafana's own where it has one, so that a duration reads "15 s",
// "2.5 min" or "1.2 hour" as it grows, on stats and chart axes alike.
const (
	unitCount    = "none"
	unitShare    = "percentunit"
	unitDuration = "s"
	unitMinutes  = "m" // durations the query gives in minutes
	unitPerHour  = "suffix:/h"
	// unitCharacters has no unit of Grafana's own.
	unitCharacters = "suffix: chars"
)

// A stat, gauge, list or table shows the value of an instant query, which Grafana
// evaluates at now rounded down to the panel's step, the range over maxDataPoints
// and at least the panel's interval. With these, the step, so the lag behind now, is
// a second (10 s for a whole day in Grafana 12, which asks for at most 11,000 points
// of a range).
const (
	instantInterval      = "1s"
	instantMaxDataPoints = 100000
)

// datasource is the dashboard's Prometheus, chosen by its datasource variable.
var datasource = common.DataSourceRef{Type: new("prometheus"), Uid: new("${datasource}")}

// target is a query of a panel; refIDs are given in order.
type target struct {
	expr, legend string
}

func queries(instant bool, targets []target) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(targets))
	for i, t := range targets {
		q := prometheus.NewDataqueryBuilder().Expr(t.expr).LegendFormat(t.legend).RefId(string(rune('A' + i))).
			Datasource(datasource).EditorMode(prometheus.QueryEditorModeCode)
		if instant {
			q = q.Instant().Format(prometheus.PromQueryFormatTimeSeries)
		} else {
			q = q.Range().Format(prometheus.PromQueryFormatTimeSeries)
		}
		out[i] = q
	}
	return out
}

// threshold is a colour from a value on; the first of a list has no value.
type threshold struct {
	color string
	from  float64
}

func thresholds(steps ...threshold) *dashboard.ThresholdsConfigBuilder {
	out := make([]dashboard.Threshold, len(steps))
	for i, s := range steps {
		out[i] = dashboard.Threshold{Color: s.color}
		if i > 0 {
			out[i].Value = new(s.from)
		}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(out)
}

// plain colours a stat's value in the text colour.
var plain = []threshold{{color: "text"}}

// statPanel is a single number, or a few, over the time of the panel.
func statPanel(title, description string, width, height uint32, unit string, decimals float64, colors []threshold, targets ...target) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).Span(width).Height(height).
		Unit(unit).Decimals(decimals).Thresholds(thresholds(colors...)).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeValue).TextMode(common.BigValueTextModeAuto).
		JustifyMode(common.BigValueJustifyModeAuto).WideLayout(true).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Interval(instantInterval).MaxDataPoints(instantMaxDataPoints).
		Targets(queries(true, targets))
}

// words shows values as words, each in a colour: the states of a 0-or-1 metric.
func words(states ...struct{ value, text, color string }) []dashboard.ValueMapping {
	m := dashboard.NewValueMap()
	for i, s := range states {
		m.Options[s.value] = dashboard.ValueMappingResult{Text: new(s.text), Color: new(s.color), Index: new(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: m}}
}

// lines is a chart of lines over the dashboard's time, not stacked and not filled,
// so that none hides another; legend names each.
func lines(title, description string, width uint32, unit string, targets ...target) *timeseries.PanelBuilder {
	return chart(title, description, width, unit, targets...).AxisSoftMin(0)
}

// logLines is a chart of lines on a logarithmic axis, where lines an order of
// magnitude apart each read on a scale of their own: a median of 10 s is not drawn
// flat under a 99th percentile of 10 minutes.
func logLines(title, description string, width uint32, unit string, targets ...target) *timeseries.PanelBuilder {
	return chart(title, description, width, unit, targets...).
		ScaleDistribution(common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLog).Log(10))
}

// chart is a chart of lines over the dashboard's time.
func chart(title, description string, width uint32, unit string, targets ...target) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).Span(width).Height(8).
		Unit(unit).ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic)).
		DrawStyle(common.GraphDrawStyleLine).LineWidth(1).FillOpacity(0).ShowPoints(common.VisibilityModeNever).
		LineInterpolation(common.LineInterpolationSmooth).SpanNulls(common.BoolOrFloat64{Bool: new(false)}).
		GradientMode(common.GraphGradientModeNone).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNone).Group("A")).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true).Calcs([]string{})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		Targets(queries(false, targets))
}

// shares is a chart of shares, its axis from 0% to 100%.
func shares(title, description string, width uint32, targets ...target) *timeseries.PanelBuilder {
	return lines(title, description, width, unitShare, targets...).Min(0).Max(1)
}

// stacked fills the lines of a chart on top of each other: parts of a whole.
func stacked(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.FillOpacity(60).Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A"))
}

// barList is a ranked list of bars, its names above them.
func barList(title, description string, placement common.BarGaugeNamePlacement, colors []threshold, targets ...target) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).Span(12).Height(8).
		Unit(unitCount).Decimals(0).Thresholds(thresholds(colors...)).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		DisplayMode(common.BarGaugeDisplayModeBasic).NamePlacement(placement).ShowUnfilled(true).
		Orientation(common.VizOrientationHorizontal).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Interval(instantInterval).MaxDataPoints(instantMaxDataPoints).
		Targets(queries(true, targets))
}

// tablePanel lists series as rows, a column a label or value.
func tablePanel(title, description string, height uint32, targets ...target) *table.PanelBuilder {
	qs := queries(true, targets)
	for _, q := range qs {
		q.(*prometheus.DataqueryBuilder).Format(prometheus.PromQueryFormatTable)
	}
	return table.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).Span(24).Height(height).
		Unit(unitCount).Decimals(0).Thresholds(thresholds(plain...)).ShowHeader(true).CellHeight(common.TableCellHeightSm).
		Interval(instantInterval).MaxDataPoints(instantMaxDataPoints).
		Targets(qs)
}

// fixedColor is an override that gives the series named name a colour.
func fixedColor(color string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": color}}}
}

// colored is an ordered list of series names and their colours.
type colored []struct{ name, color string }

// The fixed colours, the same in every panel.
var (
	channelColors = colored{
		{"whatsapp", "green"}, {"web", "blue"}, {"facebook", "purple"}, {"instagram", "orange"},
		{"other", "yellow"}, {"unknown", "#8e8e8e"},
	}
	// feelings are diverging, from red to green through a grey.
	feelingColors = colored{
		{"very negative", "#a50026"}, {"negative", "#f46d43"}, {"neutral", "#bdbdbd"}, {"positive", "#66bd63"}, {"very positive", "#006837"},
	}
	participantColors = colored{{"agent", "blue"}, {"customer", "orange"}, {"chatbot", "purple"}, {"other", "yellow"}, {"unknown", "#8e8e8e"}}
	quantileColors    = colored{{"p50", "green"}, {"p90", "orange"}, {"p99", "red"}}
	resultColors      = colored{
		{"success", "green"}, {"empty", "blue"}, {"unauthorized", "red"}, {"quota_exceeded", "dark-red"},
		{"concurrency_limited", "orange"}, {"http_error", "red"}, {"api_error", "semi-dark-red"},
		{"timeout", "dark-orange"}, {"decode_error", "purple"}, {"unreachable", "#8e8e8e"},
	}
)

// colorsByName fixes the colour of each series by its name.
func colorsByName[P interface {
	OverrideByName(string, []dashboard.DynamicConfigValue) P
}](p P, colors colored) P {
	for _, c := range colors {
		p = p.OverrideByName(c.name, fixedColor(c.color))
	}
	return p
}

// totalLegend names a line of the selected channels together.
const totalLegend = "Total · ${channel:text}"

// withTotal draws the line of the channels together wider than each channel's, in
// the text colour, so that the breakdown never hides the total.
func withTotal(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return colorsByName(p, channelColors).OverrideByRegexp("Total · .*", append(fixedColor("text"),
		dashboard.DynamicConfigValue{Id: "custom.lineWidth", Value: 3}))
}

// byChannel is a chart of a quantity for the selected channels together and for
// each; the total is a wide line, the channels thin ones.
func byChannel(p func(targets ...target) *timeseries.PanelBuilder, total, perChannel string) *timeseries.PanelBuilder {
	return withTotal(p(target{total, totalLegend}, target{perChannel, "{{channel}}"}))
}

// Description texts written once.
var (
	windowText = "Each point is over the window before it, the dashboard's Window ($window). On auto, its default, the window " +
		"grows with the time range, at least an hour: 1 hour up to a day, 6 hours at 7 days, 12 hours at 30 days, so that " +
		"a quiet night still holds enough chats for a steady line, and a week shows trends. The line reaches now. Pick a " +
		"fixed window in the Window menu to see a shorter stretch in more detail."
	fewText = fmt.Sprintf("Where the window holds fewer than %d chats a point is not drawn: a share of a handful of chats "+
		"is an accident, often 0%% or 100%%.", minChats)
	exactText = "Counted exactly: the counters' difference over the window (not increase(), which extrapolates), as of the " +
		"last scrape before the refresh, so that it equals the Wolkvox report for the same chats. Where a counter " +
		"restarted in the window (an exporter without --storage.path restarted), what it had counted before the restart " +
		"counts too, while the counter is below its value at the window's start."
	sinceStartText = "A counter that began in the window, as at the exporter's first start, is taken over the part of the " +
		"window since, so that the first hour does not climb from 0 as if calls had slowed down."
	logText = "The axis is logarithmic, each tick ten times the one below, so that each percentile reads on its own " +
		"scale: the median is not drawn flat under a 99th percentile ten times longer."
	lastHourText   = "The last hour, up to now."
	installDayText = "On the day the exporter was installed, the chats before it began counting are here only if the " +
		"backfill wrote them (docs/history.md: The day you install)."
)

func sentences(s ...string) string { return strings.Join(s, " ") }
