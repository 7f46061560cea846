# fiberlogto: `make example` runs the tutorial app, `make test` runs every test.
GO ?= go
export CGO_ENABLED = 1

.PHONY: all test unit race lint fuzz example example-v3 example-http build tidy integration services-start services-stop bench bench-smoke faultload abandoned

all: test

SERVICES_DIR ?= $(or $(TMPDIR),/tmp)/fiberlogto-services

## test: every test: lint, then with real Redis and PostgreSQL up (stopped whatever happens)
## the whole module with the race detector, the fuzz targets for a bounded time, the integration suite
test: lint
	@trap 'bash scripts/services.sh stop "$(SERVICES_DIR)"' EXIT; \
	bash scripts/services.sh start "$(SERVICES_DIR)" && \
	set -a && . "$(SERVICES_DIR)/env" && set +a && \
	$(GO) test -race -count=1 ./... && \
	$(MAKE) bench-smoke && \
	$(MAKE) faultload FAULTLOAD_ARGS="-users 20 -duration 12s -rotate 1s -fail 0.2" && \
	$(MAKE) fuzz && \
	$(MAKE) integration

## bench: wrk load test over loopback (wrk installed when missing): a bare app vs the middleware on memory, SQLite (1,000 / 100,000 sessions), Redis and PostgreSQL (started for it) and an API, Fiber v2, Fiber v3 and net/http side by side, requests/s and server CPU µs per request; ~8 min (ADAPTERS=v2 for Fiber v2 only)
bench:
	@trap 'bash scripts/services.sh stop "$(SERVICES_DIR)-bench"' EXIT; \
	bash scripts/services.sh start "$(SERVICES_DIR)-bench" >/dev/null && \
	set -a && . "$(SERVICES_DIR)-bench/env" && set +a && \
	GO="$(GO)" bash bench/run.sh

## faultload: users sign in and call protected routes while the provider fails 20% of token calls and rotates keys (every second); 0 sessions lost and no refused callback, or it fails
FAULTLOAD_ARGS ?= -users 40 -duration 20s -rotate 1s -fail 0.2
faultload:
	$(GO) run ./bench/faultload $(FAULTLOAD_ARGS)

## abandoned: what sign-ins started and never finished cost the server (RSS + SQLite growth per sign-in)
abandoned:
	$(GO) run ./bench/abandoned

## bench-smoke: every Go benchmark once (a smoke: nothing is timed or asserted)
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./fiberlogto/

## services-start: real Redis and PostgreSQL on free loopback ports; their URLs in $(SERVICES_DIR)/env
services-start:
	bash scripts/services.sh start "$(SERVICES_DIR)"

## services-stop: stop them and remove $(SERVICES_DIR)
services-stop:
	bash scripts/services.sh stop "$(SERVICES_DIR)"

## fuzz: each fuzz target for FUZZTIME (crashers found are kept in testdata/fuzz as regression inputs)
FUZZTIME ?= 10s
FUZZ_TARGETS = FuzzCallbackQuery FuzzSignInCookie FuzzSessionCookie FuzzDecodeRecord FuzzSafeReturnPath FuzzAppendJSONString FuzzES384Verify FuzzBearerHeader
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./internal/engine/ || exit 1; \
	done

## unit: the tests without the race detector (faster)
unit:
	$(GO) test -count=1 ./...

## lint: gofmt, go vet and staticcheck must be clean
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

STATICCHECK_VERSION ?= v0.8.2

## integration: the end-to-end suite (integration/README.md): the Logto-compatible provider
## from npm, the example app over HTTP, headless Chromium. LOGTO_ENDPOINT & co. target a real Logto.
integration:
	bash integration/install-deps.sh
	cd integration/provider && npm ci --no-audit --no-fund
	$(GO) vet -tags integration ./integration/...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags integration ./integration/...
	$(GO) test -race -tags integration -count=1 ./integration/...

## example: run the tutorial app on Fiber v2 (embedded Logto-compatible provider unless LOGTO_ENDPOINT is set)
example:
	$(GO) run ./example

## example-v3: the same tutorial app on Fiber v3
example-v3:
	$(GO) run ./example/fiberv3

## example-http: the same tutorial app on net/http (the standard library's ServeMux, package logtohttp)
example-http:
	$(GO) run ./example/nethttp

build:
	$(GO) build ./...
