// Package e2e holds the end-to-end tests: they build the exporter once and run the
// binary as a user would, against the simulated Wolkvox API and, where they need
// one, a real Prometheus (each version found; see promInstalls), and check the
// repository's shipped files (the rules, the unit file, the README's queries) from
// its root. It has no code of its own. go test -short leaves out the tests that
// need Prometheus or wait on a clock.
package e2e
