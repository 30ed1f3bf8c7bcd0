//go:build !race

package wolkvox_test

const raceEnabled = false
