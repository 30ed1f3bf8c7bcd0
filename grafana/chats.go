package grafana

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The supervisors' dashboard: volume, service level, answer delay, chat length,
// handle time, sentiment and dispositions.

// slBucket selects the answer-delay bucket of the SL threshold; Prometheus 3
// writes the bound 20 as 20.0.
const slBucket = `le=~"$sl_threshold|$sl_threshold.0"`

// negative selects the chats of a negative or very negative feeling.
const negative = `feeling=~"negative|very_negative"`

func chatsDashboard(day day) *dashboard.DashboardBuilder {
	d := base(day, "wolkvox-chats", "Wolkvox chats",
		"Contact-center view of Wolkvox chats: what is open now (the real-time APIs), and from the chat_1 report volume, service level, answer delay, chat length, handle time, sentiment, dispositions.").
		Tags([]string{"wolkvox", "contact-center"}).
		WithVariable(datasourceVariable()).
		WithVariable(operationVariable("wolkvox_chats_total")).
		WithVariable(queryVariable("channel", "Channel", `label_values(wolkvox_chats_total{operation=~"$operation"}, channel)`)).
		WithVariable(queryVariable("skill", "Skill", `label_values(wolkvox_chats_total{operation=~"$operation", channel=~"$channel"}, skill)`)).
		WithVariable(slThresholdVariable()).
		WithVariable(windowVariable())
	d = nowRows(d)
	for _, p := range windowStats(overRange, lastHourText, "1h", [4]string{"Chats closed", "Service level", "ASA p90", "Negative chats"}) {
		d = d.WithPanel(p)
	}
	for _, p := range windowStats(day.today, sentences(day.todayText(), installDayText), "now/d", [4]string{"Chats today", "SL today", "ASA p90 today", "Negative today"}) {
		d = d.WithPanel(p)
	}
	d = d.WithPanel(withTotal(lines("Chats closed per hour, by channel", sentences(
		"Chats closed, as chats per hour, for the selected channels together (the wide line) and for each.", windowText), 12, unitPerHour,
		target{perHour(chat("wolkvox_chats_total")), totalLegend},
		target{perHour(chat("wolkvox_chats_total"), "channel"), "{{channel}}"})))
	d = d.WithPanel(byChannel(func(t ...target) *timeseries.PanelBuilder {
		return shares("Service level (answered within $sl_threshold s)", sentences(
			"Share of chats answered within the SL threshold, for the selected channels together (the wide line) and for each.",
			windowText, fewText), 12, t...)
	}, ratio(chat("wolkvox_chat_answer_delay_seconds_bucket", slBucket), chat("wolkvox_chat_answer_delay_seconds_count")),
		ratio(chat("wolkvox_chat_answer_delay_seconds_bucket", slBucket), chat("wolkvox_chat_answer_delay_seconds_count"), "channel")))
	d = d.WithPanel(percentiles("Answer delay p50 / p90 / p99", sentences(
		"Time from the customer starting the chat to the agent answering (ASA), in seconds: half, 90% and 99% of the chats were answered within these.",
		windowText, fewText), unitDuration, "wolkvox_chat_answer_delay_seconds", chat, ""))
	d = d.WithPanel(lines("Answer delay p90 by skill", sentences(
		"90% of each skill's chats were answered within this many seconds. Skills show by the names the exporter's skills map gives them, or by their Wolkvox id.",
		windowText, fewText), 12, unitDuration,
		target{quantile(0.9, "wolkvox_chat_answer_delay_seconds", chat, "skill"), "skill {{skill}}"}).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).
			ShowLegend(true).Calcs([]string{"mean", "max"}).SortBy("Max").SortDesc(true)))
	d = d.WithPanel(percentiles("Chat length p50 / p90 / p99", sentences(
		"How long chats lasted (chat_duration), in minutes, leaving out the chats the platform closed by timeout about a day after they opened: those are counted apart, beside.",
		windowText, fewText), unitMinutes, "wolkvox_chat_duration_seconds", notTimedOut, " / 60"))
	d = d.WithPanel(withTotal(lines("Closed by timeout, per hour", sentences(
		"Chats no agent coded, which the platform closes by timeout (cod_act TIMEOUTCHAT) about 23 hours after they opened, as chats per hour, together (the wide line) and by channel. Their length is left out of Chat length.",
		windowText), 12, unitPerHour,
		target{perHour(chat("wolkvox_chat_duration_seconds_count", `timed_out="true"`)), totalLegend},
		target{perHour(chat("wolkvox_chat_duration_seconds_count", `timed_out="true"`), "channel"), "{{channel}}"})))
	timedOut := chat("wolkvox_chat_dispositions_total", `code=~"(?i)timeoutchat"`)
	d = d.WithPanel(statPanel("Timed out today", sentences(
		"Share of today's chats that the platform closed by timeout (cod_act TIMEOUTCHAT) because no agent coded them.", day.todayText(), exactText),
		6, 4, unitShare, 0, []threshold{{"green", 0}, {"orange", 0.2}, {"red", 0.5}},
		target{share(day.today, timedOut, chat("wolkvox_chat_dispositions_total")), "timed out"}).
		TimeFrom("now/d").HideTimeOverride(false))
	d = d.WithPanel(statPanel("Timeouts today", sentences(
		"Chats the platform closed by timeout (cod_act TIMEOUTCHAT) today.", day.todayText(), exactText),
		6, 4, unitCount, 0, plain, target{"(" + sumBy(day.today(timedOut)) + " or vector(0))", "timed out"}).
		TimeFrom("now/d").HideTimeOverride(false))
	d = d.WithPanel(rereadDay())
	d = d.WithPanel(percentiles("Handle time p50 / p90 / p99", sentences(
		"Time agents spent on each chat (time_on_agent), in minutes.", windowText, fewText),
		unitMinutes, "wolkvox_chat_handle_time_seconds", chat, " / 60"))
	d = d.WithPanel(byChannel(func(t ...target) *timeseries.PanelBuilder {
		return lines("Average handle time", sentences(
			"Average time agents spent on a chat, in minutes, for the selected channels together (the wide line) and for each.", windowText, fewText),
			12, unitMinutes, t...)
	}, ratio(chat("wolkvox_chat_handle_time_seconds_sum"), chat("wolkvox_chat_handle_time_seconds_count"))+" / 60",
		ratio(chat("wolkvox_chat_handle_time_seconds_sum"), chat("wolkvox_chat_handle_time_seconds_count"), "channel")+" / 60"))
	d = d.WithPanel(sentimentMix())
	d = d.WithPanel(byChannel(func(t ...target) *timeseries.PanelBuilder {
		return shares("Negative sentiment share", sentences(
			"Share of chats with a negative or very negative feeling, among those with a feeling, for the selected channels together (the wide line) and for each.",
			windowText, fewText), 12, t...)
	}, ratio(chat("wolkvox_chats_total", negative), chat("wolkvox_chats_total", `feeling!="unknown"`)),
		ratio(chat("wolkvox_chats_total", negative), chat("wolkvox_chats_total", `feeling!="unknown"`), "channel")))
	d = d.WithPanel(colorsByName(stacked(shares("Who spoke last", sentences(
		"Share of chats by who wrote the last message, stacked: the customer speaking last may mean an unanswered question.", windowText, fewText), 12,
		target{enough(sumBy(rate(chat("wolkvox_chats_total")), "last_participant")+" / ignoring (last_participant) group_left "+
			sumBy(rate(chat("wolkvox_chats_total"))), chat("wolkvox_chats_total")), "{{last_participant}}"})), participantColors))
	d = d.WithPanel(barList("Top dispositions", sentences(
		"The ten dispositions (cod_act and its description) with the most chats today; dispositions with no chat today are left out.", day.todayText(), exactText),
		common.BarGaugeNamePlacementTop, []threshold{{color: "blue"}},
		target{"sort_desc(topk(10, " + sumBy(day.today(chat("wolkvox_chat_dispositions_total")), "code", "description") + " > 0))", "{{code}} · {{description}}"}).
		TimeFrom("now/d").HideTimeOverride(false).Text(common.NewVizTextDisplayOptionsBuilder().TitleSize(14).ValueSize(18)))
	d = d.WithPanel(lines("Characters per chat", sentences(
		"Characters typed per chat by customers and by agents, averaged over the chats closed.", windowText, fewText), 12, unitCharacters,
		target{ratio(chat("wolkvox_chat_customer_characters_total"), chat("wolkvox_chats_total")), "customer"},
		target{ratio(chat("wolkvox_chat_agent_characters_total"), chat("wolkvox_chats_total")), "agent"}).
		OverrideByName("customer", fixedColor("orange")).OverrideByName("agent", fixedColor("blue")))
	d = d.WithPanel(byChannel(func(t ...target) *timeseries.PanelBuilder {
		return lines("Agent messages per chat", sentences(
			"Times agents wrote to the customer per chat, for the selected channels together (the wide line) and for each.", windowText, fewText),
			12, unitCount, t...)
	}, ratio(chat("wolkvox_chat_agent_messages_total"), chat("wolkvox_chats_total")),
		ratio(chat("wolkvox_chat_agent_messages_total"), chat("wolkvox_chats_total"), "channel")))
	return d.WithRow(dashboard.NewRowBuilder("Agents (needs agent_metrics: true)").Collapsed(true).WithPanel(agentTable(day)))
}

// windowStats are the four numbers of a window, titled as given: chats, service
// level, answer delay and negative share.
func windowStats(exact count, window, timeFrom string, titles [4]string) []*stat.PanelBuilder {
	stats := []*stat.PanelBuilder{
		statPanel(titles[0], sentences("Chats closed in the window, each once.", window, exactText),
			6, 4, unitCount, 0, plain, target{sumBy(exact(chat("wolkvox_chats_total"))), "chats"}),
		statPanel(titles[1], sentences(
			"Service level (SL): share of the chats closed in the window that an agent answered within the SL threshold ($sl_threshold s).", window, exactText),
			6, 4, unitShare, 0, []threshold{{"red", 0}, {"orange", 0.7}, {"green", 0.8}},
			target{share(exact, chat("wolkvox_chat_answer_delay_seconds_bucket", slBucket), chat("wolkvox_chat_answer_delay_seconds_count")), "service level"}),
		statPanel(titles[2], sentences(
			"Answer delay (ASA, as the Wolkvox report calls it), 90th percentile: 90% of the chats closed in the window were answered within this time (estimated within the histogram's buckets).", window),
			6, 4, unitDuration, 0, []threshold{{"green", 0}, {"orange", 30}, {"red", 60}},
			target{"histogram_quantile(0.9, " + sumBy(exact(chat("wolkvox_chat_answer_delay_seconds_bucket")), "le") + ") >= 0", "p90"}),
		statPanel(titles[3], sentences(
			"Share of the chats closed in the window with a negative or very negative feeling, among those with a feeling.", window, exactText),
			6, 4, unitShare, 0, []threshold{{"green", 0}, {"orange", 0.15}, {"red", 0.25}},
			target{share(exact, chat("wolkvox_chats_total", negative), chat("wolkvox_chats_total", `feeling!="unknown"`)), "negative"}),
	}
	for i, p := range stats {
		p.TimeFrom(timeFrom).HideTimeOverride(false)
		if i > 0 {
			p.NoValue("no chats in the window")
		}
	}
	return stats
}

// share is the exact share of the counts of num among those of den over the
// window; none of num is 0%, and a window without chats shows no share.
func share(exact count, num, den string) string {
	return fmt.Sprintf("(%s or vector(0)) / (%s > 0)", sumBy(exact(num)), sumBy(exact(den)))
}

// notTimedOut selects the chats an agent or the customer closed, not the timeout.
func notTimedOut(metric string, more ...string) string {
	return chat(metric, append([]string{`timed_out="false"`}, more...)...)
}

// percentiles is a chart of the median, 90th and 99th percentiles of a histogram;
// after is written after each, such as " / 60" for minutes.
func percentiles(title, description, unit, metric string, sel func(string, ...string) string, after string) *timeseries.PanelBuilder {
	var targets []target
	for _, q := range []struct {
		q    float64
		name string
	}{{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}} {
		targets = append(targets, target{quantile(q.q, metric, sel) + after, q.name})
	}
	return colorsByName(logLines(title, sentences(description, logText), 12, unit, targets...), quantileColors)
}

// sentimentMix stacks the feelings in their order, one query each, so that they
// stack from very negative to very positive and not alphabetically.
func sentimentMix() *timeseries.PanelBuilder {
	var targets []target
	for _, f := range feelingColors {
		targets = append(targets, target{enough(sumBy(rate(chat("wolkvox_chats_total", fmt.Sprintf("feeling=%q", labelValue(f.name)))))+
			" / scalar("+sumBy(rate(chat("wolkvox_chats_total")))+")", chat("wolkvox_chats_total")), f.name})
	}
	return colorsByName(stacked(shares("Sentiment mix", sentences(
		"Share of chats by the customer's feeling, stacked from very negative at the bottom to very positive at the top; what is left to 100% are chats without a feeling.",
		windowText, fewText), 12, targets...)), feelingColors)
}

// labelValue is how the exporter writes a name shown with spaces: very_negative.
func labelValue(name string) string {
	out := []rune(name)
	for i, r := range out {
		if r == ' ' {
			out[i] = '_'
		}
	}
	return string(out)
}

// rereadDay shows the last day the daily re-read read, which day it was, and
// nothing before the first re-read, when the exporter exports no such day: a 0
// would read as a day without chats.
func rereadDay() *stat.PanelBuilder {
	return statPanel("Last day re-read, per the report", sentences(
		"The last day the daily re-read read in full, in the operation's time zone: its chats as the Wolkvox report lists them, and how many of them reached the counters only with the re-read (listed late). "+
			"The counts cover the part of the day the exporter was counting; this is the number to compare with the report for that day, as chats found late count in the counters on the day they are found. "+
			"Until a day has been re-read nothing shows: the exporter reads each day again early the next morning, two hours after midnight unless configured otherwise (reconcile.after)."),
		12, 4, unitCount, 0, plain,
		target{"max(" + op("wolkvox_reconcile_day_start_timestamp_seconds") + ") * 1000", "day"},
		target{"sum(" + op("wolkvox_reconcile_day_chats") + ")", "chats"},
		target{"sum(" + op("wolkvox_reconcile_day_missed_chats") + ")", "found late"}).
		TextMode(common.BigValueTextModeValueAndName).
		NoValue("no day re-read yet: each day is read again early the next morning").
		OverrideByName("day", []dashboard.DynamicConfigValue{{Id: "unit", Value: "time:YYYY-MM-DD"}})
}

// agentTable lists each agent's chats and handle time today.
func agentTable(day day) *table.PanelBuilder {
	chats, handle := day.today(op("wolkvox_agent_chats_total")), day.today(op("wolkvox_agent_handle_time_seconds_total"))
	by := []string{"operation", "agent_id", "agent_name"}
	return tablePanel("Chats and handle time per agent", sentences(
		"Chats and handle time per agent today (operation filter only). Empty unless the operation sets agent_metrics: true, which is why it sits in a collapsed row that queries nothing until opened.",
		day.todayText(), exactText), 10,
		target{sumBy(chats, by...), "__auto"},
		target{sumBy(handle, by...) + " / 3600", "__auto"},
		target{"(" + sumBy(handle, by...) + ") / (" + sumBy(chats, by...) + ") / 60", "__auto"}).
		TimeFrom("now/d").HideTimeOverride(false).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"indexByName":   map[string]any{"operation": 0, "agent_name": 1, "agent_id": 2, "Value #A": 3, "Value #B": 4, "Value #C": 5},
			"renameByName": map[string]any{"operation": "Operation", "agent_name": "Agent", "agent_id": "Agent id",
				"Value #A": "Chats", "Value #B": "Handle time (h)", "Value #C": "Avg handle time (min)"},
		}}).
		OverrideByName("Handle time (h)", []dashboard.DynamicConfigValue{{Id: "unit", Value: "suffix:h"}, {Id: "decimals", Value: 1}}).
		OverrideByName("Avg handle time (min)", []dashboard.DynamicConfigValue{{Id: "unit", Value: unitMinutes}, {Id: "decimals", Value: 1}}).
		OverrideByName("Chats", []dashboard.DynamicConfigValue{{Id: "custom.cellOptions", Value: map[string]any{"type": "gauge", "mode": "basic"}}})
}
