// Package bench holds teamctl's benchmarks, run by `make bench`: the merge queue against a
// one-at-a-time queue on a generated repository, and the orchestrator's overhead over the
// plain git it drives. They print tables; nothing in them is a timed assertion.
package bench
