# Every target runs with Go alone; none needs Docker.
GO            ?= go
GOLANGCI_LINT_VERSION := v2.15.0
GOBIN         := $(shell $(GO) env GOPATH)/bin
LINT          := $(GOBIN)/golangci-lint

.PHONY: run test lint fuzz chaos bench bench-ingest bench-pipeline build docs clean

## run: the whole pipeline locally (embedded NATS, simulator, file lookup)
run:
	$(GO) run ./cmd/scriptsync dev

## test: the test suite, with the race detector
test:
	$(GO) test -race -count=1 ./...

## lint: go vet and the pinned golangci-lint
lint: $(LINT)
	$(GO) vet ./...
	$(LINT) run ./...

$(LINT):
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzNormalize -fuzztime 30s ./ingest
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./ingest
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 30s ./config
	$(GO) test -run '^$$' -fuzz FuzzParseError -fuzztime 30s ./genesys

## chaos: the fault suite against real processes and this machine's Redis (docs/faults.md);
## CHAOS=ci runs the reduced form CI runs
CHAOS ?= full
chaos: build
	SCRIPTSYNC_CHAOS=$(CHAOS) SCRIPTSYNC_CHAOS_BIN=$(CURDIR)/bin \
		$(GO) test -count=1 -v -timeout 60m -run '^TestChaos$$' ./chaos

## docs: regenerate the configuration reference from the config struct's comments
docs:
	$(GO) run ./config/gendoc

## build: the scriptsync binary and a nats-server built from the module, into bin/
build:
	$(GO) build -o bin/scriptsync ./cmd/scriptsync
	$(GO) build -o bin/nats-server github.com/nats-io/nats-server/v2

## bench: the Go benchmarks of every package
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-ingest: HTTP load against the ingest and a bare publishing handler
bench-ingest: build
	$(GO) build -o bin/ingestload ./bench/ingestload
	bin/ingestload -scriptsync bin/scriptsync -nats-server bin/nats-server

## bench-pipeline: end-to-end events/s and landing delay through every process
bench-pipeline: build
	$(GO) build -o bin/pipeline ./bench/pipeline
	bin/pipeline -scriptsync bin/scriptsync -nats-server bin/nats-server

clean:
	rm -rf bin data
