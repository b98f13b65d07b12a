# Build, run and test salesforce_streaming. `make help` lists the targets.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell scripts/version.sh)
DATE      := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X main.Version=$(VERSION) -X main.DateBuilt=$(DATE)
# Static binaries (no libc, no interpreter): they run on distroless/static and
# any Linux. The Dockerfile's build stage runs these same targets.
GOBUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# Every go command here gets the same flags as the binaries, so that build, vet
# and test share one build cache: a package compiled with other cgo or path
# settings is compiled again.
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
DATA_DIR  ?= data
SFEMU_ADDR ?= 127.0.0.1:7357

export SALESFORCE_STREAMING_DATA_DIR := $(abspath $(DATA_DIR))

.PHONY: help build run test unit e2e fuzz lint vet bench chaos chaos-long clean node-deps docs mutants

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: $(BIN)/benthos $(BIN)/sfemu ## build bin/benthos and bin/sfemu

$(BIN)/benthos: FORCE
	$(GOBUILD) -o $@ ./cmd/benthos

$(BIN)/sfemu: FORCE
	$(GOBUILD) -o $@ ./cmd/sfemu

FORCE:

$(DATA_DIR):
	mkdir -p $(DATA_DIR)/replay_ids

run: build $(DATA_DIR) ## start the emulator generating events and a pipeline printing them (Ctrl-C stops both)
	@./scripts/run-demo.sh $(SFEMU_ADDR)

vet: ## go vet every package
	$(GO) vet ./...

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1

lint: build ## go vet, staticcheck, bin/benthos lint of resources/ and config/, and the pipelines' unit tests
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(BIN)/benthos lint resources/*.yaml
	$(BIN)/benthos lint -r resources/replay_ids_file.yaml config/*.yaml
	$(BIN)/benthos test -r resources/replay_ids_file.yaml config/*.yaml

docs: ## regenerate docs/reference.md, the input's configuration reference, from its spec
	$(GO) run ./cmd/refdoc -doc docs/reference.md

unit: ## the Go tests that need no built binaries (the end-to-end tests skip, naming `make build`)
	$(GO) test -count=1 -short -timeout 10m ./...

e2e: build $(DATA_DIR) ## the real bin/benthos and bin/sfemu end to end (test/e2e)
	SALESFORCE_STREAMING_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 10m ./test/e2e/

mutants: build ## mutation check: each mutant of scripts/mutants must fail its tests, servers included (a temporary copy)
	SALESFORCE_STREAMING_BIN=$(abspath $(BIN)) ./scripts/mutants.sh

fuzz: ## a short run of each fuzz target
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAnswer$$' -fuzztime 20s ./internal/bayeux/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./sfemu/org/soql/
	$(GO) test -run '^$$' -fuzz '^FuzzQuery$$' -fuzztime 10s ./sfemu/org/

node-deps: ## install the pinned Node packages of the CometD JavaScript, Pub/Sub Node client and jsforce tests
	npm ci --prefix sfemu/testdata/cometdjs --no-audit --no-fund
	npm ci --prefix sfemu/testdata/pubsubjs --no-audit --no-fund
	npm ci --prefix sfemu/testdata/jsforce --no-audit --no-fund

test: build $(DATA_DIR) vet node-deps ## the full suite: vet, unit, emulator scenarios, pipeline and restart tests, short fuzz, chaos and mutation runs
	SALESFORCE_STREAMING_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz
	$(CHAOS_SHORT)
	$(MAKE) --no-print-directory mutants

bench: build ## the benchmark harness: backlog drain vs peers (CometD and Pub/Sub), a floor and the framework ceiling, live latency, Go benchmarks (docs/performance.md); BENCH_FLAGS='-events 20000 -live-duration 5s -stall 20s' for a quick run
	$(GO) build -trimpath -o $(BIN)/sfbench-floor ./test/sfbench/floor
	$(GO) build -trimpath -o $(BIN)/sfbench-floor-pubsub ./test/sfbench/floor-pubsub
	$(GO) build -trimpath -o $(BIN)/sfbench ./test/sfbench
	cd bench/peers/pubsub-go && $(GO) build -trimpath -o $(abspath $(BIN))/sfbench-pubsub-go .
	npm ci --prefix bench/peers/jsforce --no-audit --no-fund --loglevel=error
	npm ci --prefix bench/peers/cometd --no-audit --no-fund --loglevel=error
	npm ci --prefix bench/peers/pubsub-node --no-audit --no-fund --loglevel=error
	$(BIN)/sfbench $(BENCH_FLAGS)

# The chaos soak (test/sfchaos) on the built binaries; CHAOS_FLAGS adds flags,
# e.g. CHAOS_FLAGS='-seed 123' replays a run's fault plan. CHAOS_SHORT is the
# short run, for targets that have built already (make test).
CHAOS_FLAGS ?=
CHAOS       := SALESFORCE_STREAMING_BIN=$(abspath $(BIN)) $(GO) run ./test/sfchaos
CHAOS_SHORT := $(CHAOS) -duration 2m -min-faults 50 -min-restarts 5 -mirror $(CHAOS_FLAGS)

chaos: build ## a short chaos soak (2 min): faults, kill -9s, a redis restart, output outages, the record mirror (-mirror); lost must be 0, the mirror equal to the records
	$(CHAOS_SHORT)

chaos-long: build ## the long chaos soak (35 min) whose figures docs/chaos.md shows
	$(CHAOS) -duration 35m -min-faults 1000 -min-restarts 50 -keep $(CHAOS_FLAGS)

clean: ## remove built binaries and local data
	rm -rf $(BIN) $(DATA_DIR)
