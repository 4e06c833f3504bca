# teamctl — the two commands that do everything: `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/teamctl

.PHONY: build test test-clis test-browser demo lint vet bench smoke fmt

# The real agent CLIs the tests run (presets' --help conformance, real Claude Code and pi
# against a local fake of the Messages API), pinned: agentproc.Presets names the same
# versions and a test fails if they drift apart. Installed with npm into a cache outside
# the repository and reused across clones; without npm those tests skip and say how to run them.
TEST_CLI_DIR ?= $(HOME)/.cache/teamctl-test/cli
TEST_CLIS    := @anthropic-ai/claude-code@2.1.330 @openai/codex@0.169.0 @google/gemini-cli@0.61.0 opencode-ai@1.18.33 @mariozechner/pi-coding-agent@0.73.1
NPM          ?= npm

build:
	$(GO) build -o $(BIN) ./cmd/teamctl

# vet + every test with the race detector; gofmt must have nothing to say. Most tests wait on
# real processes (agents, git, a supervisor), not on the CPU: four packages at once, and four
# tests at once in each, bring a warm run on this 2-core machine from 5m23s to 4m50s.
TEST_PARALLEL ?= 4
test: lint vet test-clis test-browser
	TEAMCTL_TEST_CLI_DIR="$(TEST_CLI_DIR)" $(GO) test -race -count=1 -p $(TEST_PARALLEL) -parallel $(TEST_PARALLEL) ./...

# The browser tests (web/browser_test.go) drive a headless Chromium: Debian's, installed here
# when missing and apt-get can; otherwise they skip and say how to run them.
test-browser:
	@if b=$$(command -v chromium || command -v chromium-browser || command -v google-chrome); then \
		echo "chromium for the browser tests: $$b"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null 2>&1 || \
		{ apt-get update -qq </dev/null >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null 2>&1; } || \
		echo "chromium could not be installed: the browser tests will skip"; \
	else \
		echo "no chromium: the browser tests will skip (install it: apt-get install chromium)"; \
	fi

# A stamp names what is installed: a second run with the same pins does not ask npm at all.
test-clis:
	@if ! command -v $(NPM) >/dev/null 2>&1; then \
		echo "npm not found: tests with real agent CLIs will skip (install node and npm, then make test)"; \
	elif [ "$$(cat "$(TEST_CLI_DIR)/.pins" 2>/dev/null)" = "$(TEST_CLIS)" ]; then \
		echo "agent CLIs for tests: cached in $(TEST_CLI_DIR)"; \
	else \
		echo "installing agent CLIs for tests into $(TEST_CLI_DIR): $(TEST_CLIS)"; \
		mkdir -p "$(TEST_CLI_DIR)" && \
		( cd "$(TEST_CLI_DIR)" && [ -f package.json ] || echo '{"private":true}' > package.json ) && \
		if $(NPM) install --prefix "$(TEST_CLI_DIR)" --no-audit --no-fund --loglevel=error $(TEST_CLIS) </dev/null; then \
			echo "$(TEST_CLIS)" > "$(TEST_CLI_DIR)/.pins"; \
		else \
			echo "npm install failed: tests with real agent CLIs will skip"; \
		fi; \
	fi

# macOS too: process liveness and start times differ there (agentproc's proc_darwin.go).
vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w .

demo:
	$(GO) run ./cmd/teamctl demo

# The shared acceptance smoke test (../shared/acceptance/smoke.sh), when shared/ is beside the repo.
smoke:
	bash ../shared/acceptance/smoke.sh

# Benchmarks print their tables (bench/: the merge queue beside a one-at-a-time queue and
# bors-style halving, a supervisor at rest with 64, 256 and 1024 agents, the orchestrator's
# overhead over plain git, the night shift); they take a few minutes.
bench:
	TEAMCTL_BENCH_1024=1 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...
