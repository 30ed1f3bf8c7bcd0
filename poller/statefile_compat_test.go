package poller_test

import (
	"os"
	"path/filepath"
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
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "state-2026-12-before-declarative-labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"0010\"\n    token: t\n    agent_metrics: true\n    base_url: http://127.0.0.1:1\n"), ".")
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
	o := poller.New(s, func() time.Time { return at }, log.NewNopLogger(), poller.OpenStorage(dir))
	st := o.Status()
	if st.LoadFailures != 0 {
		t.Fatalf("the state file was set aside")
	}
	for _, f := range tally.Families {
		if f.Name != "wolkvox_chats_total" && f.Name != "wolkvox_agent_chats_total" {
			continue
		}
		total := 0.0
		st.Tally.Each(f, func(_ tally.Labels, c *tally.Cell, _ time.Time) { total += c.Sum })
		if total != 95 {
			t.Errorf("%s: %v after loading, want the 95 saved", f.Name, total)
		}
	}
	if st.Tracked != 95 {
		t.Errorf("%d chats in the dedupe memory, want 95", st.Tracked)
	}
}
