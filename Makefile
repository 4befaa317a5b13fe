# nexo — make targets. `make run` and `make test` work on a fresh machine
# with Go installed.
GO        ?= go
BIN       ?= bin/nexo-bot
SANDBOX   ?= bin/nexo-sandbox
PKGS      ?= ./...
CONFIG    ?= docs/examples/nexo.yaml
# ADDR: the sandbox console's address (default $$NEXO_SANDBOX_ADDR, else 127.0.0.1:8080).
ADDR      ?=
GOFLAGS   ?=
LDFLAGS   ?= -s -w
export CGO_ENABLED ?= 0

# What a first build costs from an empty module and build cache (measured:
# docs/sandbox.md, "First run").
FIRST_BUILD := building nexo (first time: about 6 minutes)…

.PHONY: run build build-bot build-sandbox test test-integration bench lint fmt vet docker clean fuzz

## run: the real bot when SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set, else the sandbox
run:
	@if [ -n "$$SLACK_BOT_TOKEN" ] && [ -n "$$SLACK_APP_TOKEN" ]; then \
		$(MAKE) --no-print-directory build-bot && \
		exec ./$(BIN) serve --config $${NEXO_CONFIG:-$(CONFIG)}; \
	else \
		$(MAKE) --no-print-directory build-sandbox && \
		NEXO_VIA_MAKE=1 exec ./$(SANDBOX) $(if $(ADDR),--addr $(ADDR)); \
	fi

## build: both binaries (the serving one and the sandbox)
build: build-bot build-sandbox

## build-bot: the static serving binary (links no fake: cmd/nexo-bot/deps_test.go)
build-bot:
	@[ -x $(BIN) ] || [ -x $(SANDBOX) ] || echo "$(FIRST_BUILD)"
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/nexo-bot

## build-sandbox: nexo with the simulated platform and the web console
build-sandbox:
	@[ -x $(SANDBOX) ] || [ -x $(BIN) ] || echo "$(FIRST_BUILD)"
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(SANDBOX) ./cmd/nexo-sandbox

## test: unit, contract and end-to-end tests (Redis and PostgreSQL when reachable)
test:
	$(GO) test -count=1 -timeout 20m $(PKGS)

## test-integration: scripts/integration/run.sh: a real Prometheus, a real kube-apiserver with etcd,
## a real Argo CD deploying to it, the Helm chart under RBAC, headless Chromium on the sandbox
## console; Loki's HTTP API in-process
test-integration:
	bash scripts/integration/run.sh

## bench: benchmarks (ack latency, command-to-first-post, store, DORA reports, the DORA gauges'
## refresh and /metrics scrape at 200 services), then both binaries as processes: file size,
## start → socket connected, idle RSS, SIGINT → exit (internal/binbench), then the takeover
## table of killed replicas (internal/replicas)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./bot/... ./store/... ./commands/... ./internal/dorametrics
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/binbench
	$(GO) test -run '^$$' -bench Takeover -benchtime 1x -v ./internal/replicas/

## fuzz: run each fuzz target for FUZZTIME (default 30s)
fuzz:
	bash scripts/fuzz.sh $${FUZZTIME:-30s}

## lint: gofmt, go vet, and the catalog checks (no sentence outside the catalog; both locales complete)
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) test -count=1 ./i18n/ ./internal/i18ncheck/

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## docker: the container image (needs a Docker engine)
docker:
	docker build -t nexo-bot:dev .

clean:
	rm -rf bin
