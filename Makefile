# medisac — build and test.
#   make test     formatting, go.mod tidy, vet, staticcheck, race tests on SQLite and PostgreSQL, browser tests
#   make build    static binary in bin/medisac
#   make bench    benchmarks (figures are recorded in docs/benchmarks.md)
#   make fuzz     longer fuzzing of every fuzz target (FUZZTIME per target, default 30s)
#   make load     load benchmark against a real server on SQLite and PostgreSQL (LOAD_DURATION, default 10m;
#                 LOAD_DB=sqlite|postgres|both); see internal/app/load_test.go and docs/benchmarks.md

GO ?= go
FUZZTIME ?= 30s
LOAD_DURATION ?= 10m
LOAD_DB ?= both

.PHONY: test build bench fuzz run load

SHELL := /bin/bash

test:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo "== go mod tidy"; $(GO) mod tidy -diff
	@echo "== go vet"; $(GO) vet ./...
	@echo "== staticcheck"; $(GO) tool staticcheck ./...
	@echo "== go test -race (SQLite, PostgreSQL, browser)"; set -o pipefail; $(GO) test -race -json -timeout 20m ./... | $(GO) run ./internal/tools/testsum

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/medisac ./cmd/medisac

run:
	$(GO) run ./cmd/medisac demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

load:
	MEDISAC_LOAD_DURATION=$(LOAD_DURATION) MEDISAC_LOAD_DB=$(LOAD_DB) MEDISAC_TEST_REQUIRE=postgres \
	  $(GO) test -tags load -run '^TestLoad(ImportLockHold)?$$' -v -count=1 -timeout 0 ./internal/app/
