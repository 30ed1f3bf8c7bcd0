package grafana

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
)

// The "Now" row: what is open now, from the real-time APIs, at the top of the
// supervisors' dashboard. The exporter exports none of it when real-time calls are
// off, or when its last read is older than twice realtime.interval: each panel then
// shows nothing, and says how to turn it on.

// nowText ends the description of every "Now" panel.
const nowText = "From the exporter's last read of Wolkvox's real-time APIs, made at most once a realtime.interval when Prometheus " +
	"scrapes it. Nothing shows while real-time calls are off or their last read is older than twice the interval: to turn them " +
	"on, give the operation realtime: {interval: 5m} in the exporter's configuration (docs/running.md); every call costs one " +
	"of the token's daily quota."

// nowOff is what a "Now" panel shows without a read to show.
const nowOff = "off or not read lately (realtime.interval)"

// nowChats selects the open chats of the selected operations and channels.
func nowChats(metric string) string {
	return selector(metric, `operation=~"$operation"`, `channel=~"$channel"`)
}

// nowRow is the "Now" row's panels.
func nowRow() []*stat.PanelBuilder {
	open := nowChats("wolkvox_chats_active")
	panels := []*stat.PanelBuilder{
		statPanel("Chats open now", sentences(
			"Chats open now on the selected channels: assigned to an agent, not yet closed. The API lists no chat still waiting in a queue.", nowText),
			4, 4, unitCount, 0, plain, target{sumBy(open), "open"}),
		colorsByName(statPanel("Open now by channel", sentences("Chats open now, on each selected channel.", nowText),
			6, 4, unitCount, 0, plain, target{sumBy(open, "channel"), "{{channel}}"}).
			TextMode(common.BigValueTextModeValueAndName).ColorMode(common.BigValueColorModeValue), channelColors),
		statPanel("Oldest open chat", sentences(
			"How long the oldest chat open now, on the selected channels, has been going: from its first message to the read. "+
				"A chat no agent closes stays open until the platform closes it by timeout, about 23 hours after it opened.", nowText),
			4, 4, unitDuration, 0, []threshold{{"green", 0}, {"orange", 3600}, {"red", 4 * 3600}},
			target{"max(" + nowChats("wolkvox_chat_active_oldest_seconds") + ")", "oldest"}),
		statPanel("Agents by state", sentences(
			"Agents logged in now, by the state Wolkvox gives them (agent_status: ready, busy, a break...).", nowText),
			6, 4, unitCount, 0, plain, target{sumBy(op("wolkvox_agents"), "status"), "{{status}}"}).
			TextMode(common.BigValueTextModeValueAndName),
		statPanel("Read ago", sentences("How long ago the values of this row were read: the older of the two real-time reads shown.", nowText),
			4, 4, unitDuration, 0, []threshold{{"green", 0}, {"orange", 900}, {"red", 1800}},
			target{"time() - min(" + readAt("chats", "wolkvox_chats_active") + " or " + readAt("agents", "wolkvox_agents") + ")", "read"}),
	}
	for _, p := range panels {
		p.NoValue(nowOff)
	}
	return panels
}

// readAt is when api was last read, where its values are shown: metric, one of its
// families, exists.
func readAt(api, metric string) string {
	return op("wolkvox_realtime_last_success_timestamp_seconds", `api="`+api+`"`) + " and on (operation) " + op(metric)
}

// nowRows are the rows of the supervisors' dashboard: what is open now, then what
// has closed.
func nowRows(d *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
	d = d.WithRow(dashboard.NewRowBuilder("Now: open chats and agents (real-time APIs)"))
	for _, p := range nowRow() {
		d = d.WithPanel(p)
	}
	return d.WithRow(dashboard.NewRowBuilder("Closed chats (the chat_1 report)"))
}
