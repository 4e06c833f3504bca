# teamctl — the two commands that do everything: `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/teamctl

.PHONY: build test demo lint vet bench smoke fmt

build:
	$(GO) build -o $(BIN) ./cmd/teamctl

# vet + every test with the race detector; gofmt must have nothing to say.
test: lint vet
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w .

demo:
	$(GO) run ./cmd/teamctl demo

# The shared acceptance smoke test (../shared/acceptance/smoke.sh), when shared/ is beside the repo.
smoke:
	bash ../shared/acceptance/smoke.sh

# Benchmarks print their tables (bench/: the merge queue against a one-at-a-time queue, and
# the orchestrator's overhead over plain git); they take a few minutes.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...
