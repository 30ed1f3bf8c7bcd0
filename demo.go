package main

import (
	"fmt"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// demoSeed fixes the simulated history, so a restarted demo sees the same past chats.
const demoSeed = 1

// demoConfigYAML is the configuration --demo runs with. It polls every 15 s so that
// metrics move within a minute; the simulator has no daily quota, so daily_quota is
// set well above what 15 s polling needs (5760 calls a day).
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
    skills: {"12": sales, "14": support, "17": collections, "21": complaints}
`

func demoConfig(baseURL string) (*config.Config, error) {
	return config.Parse(fmt.Appendf(nil, demoConfigYAML, baseURL), ".")
}

func startDemo() (string, func(), error) {
	return simulator.Demo(demoSeed)
}
