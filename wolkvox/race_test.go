//go:build race

package wolkvox_test

// raceEnabled skips the memory tests: the race detector slows decoding many times
// over and adds allocations of its own.
const raceEnabled = true
