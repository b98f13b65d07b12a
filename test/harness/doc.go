// Package harness runs the real binaries of this repository as processes and
// checks what they delivered. It locates bin/sfemu and bin/benthos, starts the
// emulator and drives it through its control API, starts Benthos pipelines
// (single config or streams mode) with their logs captured to files, starts a
// throwaway redis-server, PostgreSQL cluster or MariaDB server (as an
// unprivileged user when run as root) and an HTTP sink that fails requests on
// purpose, publishes steady streams of events, and compares the replay ids a pipeline
// wrote against what was published (missing ids, order violations within a
// run, duplicates).
//
// It serves the end-to-end tests (test/e2e) as well as long-running programs
// such as a chaos soak or a benchmark, so it never depends on package testing:
// every wait is bounded by a context or a timeout, and every started process
// is ended by Close (idempotent), whatever happened before.
package harness
