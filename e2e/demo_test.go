package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo's past follows the wall clock's hours, busy in the Bogota day and quiet
// at night, and is the same at every start: two backfills of the same day, started
// in different seconds, write the same history, whose busiest hour is in office
// hours and whose quietest is before dawn.
func TestDemoPastFollowsTheWallClock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var histories [2]string
	for i := range histories {
		out := filepath.Join(dir, fmt.Sprintf("day%d.om", i))
		if i > 0 {
			waitForNextSecond(t)
		}
		runBackfill(t, "--demo", "--operation=demo", "--from=2026-11-23", "--to=2026-11-23", "--output="+out, "--format=openmetrics")
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		histories[i] = string(data)
	}
	if histories[0] != histories[1] {
		t.Fatal("two backfills of the same day of the demo, started a second apart, wrote different histories")
	}
	// The chats of each hour of the day: the total of wolkvox_chats_total at the
	// hour's end less at its start.
	totals := map[int64]float64{}
	for line := range strings.SplitSeq(histories[0], "\n") {
		if !strings.HasPrefix(line, "wolkvox_chats_total{") {
			continue
		}
		fields := strings.Fields(line[strings.LastIndex(line, "}")+1:])
		v, errV := strconv.ParseFloat(fields[0], 64)
		at, errT := strconv.ParseFloat(fields[1], 64)
		if errV != nil || errT != nil {
			t.Fatalf("sample %q", line)
		}
		totals[int64(at)] += v
	}
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, backfillZone)
	var perHour [24]float64
	for h := range perHour {
		perHour[h] = totals[day.Add(time.Duration(h+1)*time.Hour).Unix()] - totals[day.Add(time.Duration(h)*time.Hour).Unix()]
	}
	busiest, quietest := 0, 0
	for h, n := range perHour {
		if n > perHour[busiest] {
			busiest = h
		}
		if n < perHour[quietest] {
			quietest = h
		}
	}
	t.Logf("chats per hour in Bogota: %v", perHour)
	if busiest < 8 || busiest >= 18 || quietest >= 6 || perHour[busiest] < 3*perHour[quietest] {
		t.Errorf("the demo's busiest hour is %02d:00 (%v chats), its quietest %02d:00 (%v): not the Bogota day's office hours and night",
			busiest, perHour[busiest], quietest, perHour[quietest])
	}
}

// waitForNextSecond returns once the wall clock is in a second after the one it was
// in when called.
func waitForNextSecond(t *testing.T) {
	t.Helper()
	start := time.Now().Truncate(time.Second)
	for !time.Now().Truncate(time.Second).After(start) {
		time.Sleep(10 * time.Millisecond) // polling the wall clock, which nothing else moves
	}
}
