#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME each (default 30s). The seed corpora
# in */testdata/fuzz run as ordinary tests in `make test`; new crashers are
# written there by `go test -fuzz` and must be fixed and kept.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${1:-30s}"
targets=(
  "./commands FuzzTokenize"
  "./commands FuzzParseArgs"
  "./commands FuzzRouterCommand"
  "./bot FuzzInteractionPayload"
  "./bot FuzzEventPayload"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "== $2 ($1, $FUZZTIME)"
  go test "$1" -run "^$2\$" -fuzz "^$2\$" -fuzztime "$FUZZTIME" -parallel "${FUZZ_PARALLEL:-2}"
done
