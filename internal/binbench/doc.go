// Package binbench benchmarks nexo's two binaries as a person runs them
// (`make bench`): cmd/nexo-bot serving the example config against the fake
// Slack, and cmd/nexo-sandbox. Each benchmark builds its binary as `make
// build` does and reports the stripped file size, start → Socket Mode
// connected, the resident memory once idle after the connection, and SIGINT
// → exit. Timing goals live here, never in tests (docs/testing.md).
package binbench
