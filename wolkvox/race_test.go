//go:build race

package wolkvox_test

// raceEnabled skips the memory tests: the race detector slows the decoder's byte
// loops many times over and adds allocations of its own.
const raceEnabled = true
