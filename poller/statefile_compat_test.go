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
// upgrade. Counts saved under labels a group no longer has restart, that group's
// alone where its labels changed, every group's where the skill names did, with a
// warning saying so; the dedupe memory goes on, so each chat is still counted once.
func TestStateFileLoads(t *testing.T) {
	withoutLastParticipant := func(t *testing.T) []byte {
		t.Helper()
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
		return data
	}
	for _, tc := range []struct {
		name        string
		data        func(*testing.T) []byte
		extra       string             // configuration keys
		chats       map[string]float64 // family totals after loading
		wantWarning string             // "" for none
	}{
		{"of the previous version", readFixture, "",
			map[string]float64{"wolkvox_chats_total": 95, "wolkvox_agent_chats_total": 95}, ""},
		{"a group saved without a label it has now", withoutLastParticipant, "",
			map[string]float64{"wolkvox_chats_total": 0, "wolkvox_agent_chats_total": 95}, "families=wolkvox_chats_total"},
		{"skills named since", readFixture, "    skills: {\"12\": sales}\n",
			map[string]float64{"wolkvox_chats_total": 0, "wolkvox_agent_chats_total": 0},
			`msg="skills, buckets, agent_metrics or max_label_values changed since the state was saved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, logs := loadStateFile(t, tc.data(t), tc.extra)
			if st.LoadFailures != 0 {
				t.Fatalf("the state file was set aside")
			}
			for name, want := range tc.chats {
				if got := familyTotal(st, name); got != want {
					t.Errorf("%s: %v after loading, want %v", name, got, want)
				}
			}
			if st.Tracked != 95 {
				t.Errorf("%d chats in the dedupe memory, want 95", st.Tracked)
			}
			warned := strings.Contains(logs.String(), "level=warn")
			if warned != (tc.wantWarning != "") || !strings.Contains(logs.String(), tc.wantWarning) {
				t.Errorf("warned %v, want %q:\n%s", warned, tc.wantWarning, logs)
			}
		})
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
