# nexo — make targets. `make run` and `make test` work on a fresh machine
# with Go installed.
GO        ?= go
BIN       ?= bin/nexo-bot
PKGS      ?= ./...
CONFIG    ?= docs/examples/nexo.yaml
GOFLAGS   ?=
export CGO_ENABLED ?= 0

.PHONY: run build test test-integration bench lint fmt vet docker clean fuzz

## run: the real bot when SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set, else the sandbox
run: build
	@if [ -n "$$SLACK_BOT_TOKEN" ] && [ -n "$$SLACK_APP_TOKEN" ]; then \
		exec ./$(BIN) serve --config $${NEXO_CONFIG:-$(CONFIG)}; \
	else \
		exec ./$(BIN) sandbox; \
	fi

## build: the static binary
build:
	$(GO) build -trimpath -ldflags "-s -w" -o $(BIN) ./cmd/nexo-bot

## test: unit, contract and end-to-end tests (Redis and PostgreSQL when reachable)
test:
	$(GO) test -count=1 -timeout 20m $(PKGS)

## test-integration: the integration tier against real Prometheus, PostgreSQL, kube-apiserver and Argo CD
test-integration:
	bash scripts/integration/run.sh

## bench: benchmarks (ack latency, command-to-first-post, store, DORA)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./bot/... ./store/... ./commands/...

## fuzz: run each fuzz target for FUZZTIME (default 30s)
fuzz:
	bash scripts/fuzz.sh $${FUZZTIME:-30s}

## lint: gofmt and go vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## docker: the container image (needs a Docker engine)
docker:
	docker build -t nexo-bot:dev .

clean:
	rm -rf bin
