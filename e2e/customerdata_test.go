package e2e

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// digitRunRE splits text into runs of digits, to find customer ids and phones only as
// whole numbers: float samples such as 1.23456789e+09 hold many digits in a row.
var digitRunRE = regexp.MustCompile(`[0-9]+`)

// Customer data served by the APIs (names, e-mails, phones, ids, comments, and the
// real-time APIs' messages and their senders) appears neither in /metrics, as a
// label or otherwise, nor in the debug log, nor in /config.
func TestCustomerDataNeverShown(t *testing.T) {
	traffic := officeTraffic(21, 3000)
	upstream := simulator.NewServer(traffic, simulator.Options{Token: e2eToken})
	api := httptest.NewServer(upstream)
	defer api.Close()
	// Agent metrics on and skill names set: every label the exporter can make.
	_, cfgPath := writeOperationConfig(t, api.URL, "    agent_metrics: true\n    skills: {\"12\": sales, \"14\": support}\n    realtime: {interval: 1m}\n")
	e := startExporter(t, "--config.file="+cfgPath, "--log.level=debug")
	status, body := e.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	_, config := e.get(t, "/config")

	served := upstream.Served()
	words := map[string]string{}   // text value -> field
	numbers := map[string]string{} // digits-only value -> field
	for _, c := range served {
		for field, v := range map[string]string{
			"customer_name": c.CustomerName, "customer_email": c.CustomerEmail, "customer_phone": c.CustomerPhone,
			"customer_id": c.CustomerID, "comments": c.Comments,
		} {
			switch {
			case v == "":
			case strings.Trim(v, "0123456789") == "":
				numbers[v] = field
			default:
				words[v] = field
			}
		}
	}
	// What the real-time reads carried: the open chats' phones, their messages and
	// who sent them.
	for _, read := range upstream.OpenServed() {
		if read.API != "chats" {
			continue
		}
		add := func(m map[string]string, v, field string) {
			if _, ok := m[v]; !ok {
				m[v] = field
			}
		}
		for _, c := range traffic.(simulator.OpenSource).ChatsOpenAt(read.At) {
			if c.CustomerPhone != "" {
				add(numbers, c.CustomerPhone, "customer_phone")
			}
			for _, m := range c.Conversation() {
				if m.At.After(read.At) {
					break
				}
				add(words, m.Text, "message text")
				if strings.Trim(m.From, "0123456789") == "" {
					add(numbers, m.From, "message sender")
				} else if m.From != c.AgentName && m.From != "chat-bot" {
					add(words, m.From, "message sender")
				}
			}
		}
	}
	perField := map[string]int{}
	for _, m := range []map[string]string{words, numbers} {
		for _, field := range m {
			perField[field]++
		}
	}
	for _, field := range []string{"customer_name", "customer_email", "customer_phone", "customer_id", "comments", "message text", "message sender"} {
		if perField[field] == 0 {
			t.Fatalf("the API served no %s among %d chats, so the test proves nothing about it", field, len(served))
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if counted := mfs["wolkvox_agent_chats_total"].GetMetric(); len(counted) == 0 {
		t.Fatal("no agent series: agent_metrics did not take effect")
	}
	if open := mfs["wolkvox_chats_active"].GetMetric(); len(open) == 0 {
		t.Fatal("nothing open shown: the real-time reads did not take effect")
	}
	// Labels first, for the clearest message.
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if field, ok := words[lp.GetValue()]; ok {
					t.Errorf("%s has label %s=%q, a %s", name, lp.GetName(), lp.GetValue(), field)
				}
				if field, ok := numbers[lp.GetValue()]; ok {
					t.Errorf("%s has label %s=%q, a %s", name, lp.GetName(), lp.GetValue(), field)
				}
			}
		}
	}
	e.logs.waitFor(t, "chat_1 query done") // a debug line, written once the answer is counted
	e.logs.waitFor(t, "real-time call done")
	for where, out := range map[string]string{"/metrics": body, "debug log": e.logs.String(), "/config": config} {
		for v, field := range words {
			if strings.Contains(out, v) {
				t.Errorf("%s holds the %s %q", where, field, v)
			}
		}
		for _, run := range digitRunRE.FindAllString(out, -1) {
			if field, ok := numbers[run]; ok {
				t.Errorf("%s holds the %s %q", where, field, run)
			}
		}
	}
}
