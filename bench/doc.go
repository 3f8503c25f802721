// Package bench is Tessera's benchmark harness: fixtures with many stored
// sessions, the bare net/http baselines every result is compared with, and a
// closed-loop HTTP load generator. `go test -bench . ./bench` runs the Go
// benchmarks; `go run ./bench/cmd/benchrun` interleaves baseline and Tessera
// rounds and prints their ratios.
package bench
