package main

import (
	"fmt"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

// demoSeed fixes the simulated history, so a restarted demo sees the same past chats.
const demoSeed = 1

// demoConfigYAML is the configuration --demo runs with. It polls every 15 s so that
// metrics move within a minute, and reads what is open now every minute; the
// simulator has no daily quota, so daily_quota is set above what that needs (5760
// calls a day for chat_1, 1 for the re-read, 2880 for the real-time APIs).
const demoConfigYAML = `
operations:
  - name: demo
    server: "0000"
    token: demo-token
    base_url: %q
    timezone: America/Bogota
    min_interval: 15s
    overlap: 10m
    request_timeout: 10s
    daily_quota: 10000
    skills: {"12": sales, "14": support, "17": collections, "21": complaints, "30": after-sales}
    realtime:
      interval: 1m
`

func demoConfig(baseURL string) (*config.Config, error) {
	return config.Parse(fmt.Appendf(nil, demoConfigYAML, baseURL), ".")
}

// demoZone is where the simulated traffic's hours are: the real API's default zone.
const demoZone = "America/Bogota"

// parseDemoClock reads --demo.clock: "wall" or "" (the wall clock, returned as
// zero), HH:MM (today in demoZone at that time) or an RFC 3339 time.
func parseDemoClock(s string, now time.Time) (time.Time, error) {
	if s == "" || s == "wall" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	loc, err := time.LoadLocation(demoZone)
	if err != nil {
		return time.Time{}, err
	}
	hm, err := time.Parse("15:04", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither HH:MM, an RFC 3339 time such as 2026-11-23T10:00:00-05:00, nor wall", s)
	}
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, hm.Hour(), hm.Minute(), 0, 0, loc), nil
}
