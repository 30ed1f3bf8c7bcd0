package poller_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// A state file written before the labels of the chat families were declared by
// name (testdata: 95 chats of operation main, with agent metrics, counted at
// 2026-11-23 10:00 in Bogota) loads with its counts: counters go on across the
// upgrade.
func TestStateFileOfThePreviousVersionLoads(t *testing.T) {
	st, _ := loadStateFile(t, readFixture(t), "")
	if st.LoadFailures != 0 {
		t.Fatalf("the state file was set aside")
	}
	for _, name := range []string{"wolkvox_chats_total", "wolkvox_agent_chats_total"} {
		if total := familyTotal(st, name); total != 95 {
			t.Errorf("%s: %v after loading, want the 95 saved", name, total)
		}
	}
	if st.Tracked != 95 {
		t.Errorf("%d chats in the dedupe memory, want 95", st.Tracked)
	}
}

// A state file whose chats group was saved without a label the group has now (as
// after an upgrade that adds one) loads: the chats group's counts restart, with a
// warning naming its families, and the other groups' counts and the dedupe memory
// go on, so that each chat is still counted once.
func TestStateFileWithALabelLessRestartsThatGroup(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(readFixture(t), &m); err != nil {
		t.Fatal(err)
	}
	for _, set := range m["series"].(map[string]any)["chats"].([]any) {
		delete(set.(map[string]any), "last_participant")
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	st, logs := loadStateFile(t, data, "")
	if st.LoadFailures != 0 {
		t.Fatalf("the state file was set aside")
	}
	if got := familyTotal(st, "wolkvox_chats_total"); got != 0 {
		t.Errorf("wolkvox_chats_total: %v after loading, want 0: its labels changed", got)
	}
	if got := familyTotal(st, "wolkvox_agent_chats_total"); got != 95 {
		t.Errorf("wolkvox_agent_chats_total: %v after loading, want the 95 saved", got)
	}
	if st.Tracked != 95 {
		t.Errorf("%d chats in the dedupe memory, want 95", st.Tracked)
	}
	if !strings.Contains(logs.String(), "level=warn") || !strings.Contains(logs.String(), "families=wolkvox_chats_total") {
		t.Errorf("no warning naming the restarted families:\n%s", logs)
	}
}

// Skills named while the exporter was stopped change every label set: the chat
// counters restart, with a warning saying why, and the dedupe memory goes on.
func TestStateFileUnderOtherSkillNamesRestartsTheCounts(t *testing.T) {
	st, logs := loadStateFile(t, readFixture(t), "    skills: {\"12\": sales}\n")
	if st.LoadFailures != 0 {
		t.Fatalf("the state file was set aside")
	}
	for _, name := range []string{"wolkvox_chats_total", "wolkvox_agent_chats_total"} {
		if got := familyTotal(st, name); got != 0 {
			t.Errorf("%s: %v after loading, want 0: the labels changed", name, got)
		}
	}
	if st.Tracked != 95 {
		t.Errorf("%d chats in the dedupe memory, want 95", st.Tracked)
	}
	if !strings.Contains(logs.String(), "level=warn") || !strings.Contains(logs.String(), `msg="skills, buckets, agent_metrics or max_label_values changed since the state was saved`) {
		t.Errorf("no warning that the counts restart:\n%s", logs)
	}
}

func readFixture(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "state-2026-12-before-declarative-labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// loadStateFile starts operation main of the fixture (95 chats, with agent
// metrics), its configuration with extra keys, from a state file holding data, and
// returns its status and its log.
func loadStateFile(t *testing.T, data []byte, extra string) (poller.Status, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"0010\"\n    token: t\n    agent_metrics: true\n    base_url: http://127.0.0.1:1\n"+extra), ".")
	if err != nil {
		t.Fatal(err)
	}
	op := cfg.Operations[0]
	client, err := wolkvox.NewClient(wolkvox.OperationOptions(op))
	if err != nil {
		t.Fatal(err)
	}
	s := &poller.Settings{Config: op, Tally: tally.SettingsOf(op, cfg.Histograms), Client: client}
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	o := poller.New(s, func() time.Time { return at }, log.NewLogfmtLogger(&logs), poller.OpenStorage(dir))
	return o.Status(), &logs
}

// familyTotal is the sum of the counter family name's series.
func familyTotal(st poller.Status, name string) float64 {
	total := 0.0
	for _, f := range tally.Families {
		if f.Name == name {
			st.Tally.Each(f, func(_ tally.Labels, c *tally.Cell, _ time.Time) { total += c.Sum })
		}
	}
	return total
}
