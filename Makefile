# Gatehouse developer commands. `make test` is what CI runs (via .ci/run).

GO ?= go
# The PostgreSQL suite runs against the server on 127.0.0.1:5432 (trust auth,
# user postgres); set GATEHOUSE_TEST_POSTGRES=0 to run SQLite only.
GATEHOUSE_TEST_POSTGRES ?= 1
export GATEHOUSE_TEST_POSTGRES

# Budgets are execution counts (Nx), not durations: go1.26 fuzzing fails
# spuriously with "context deadline exceeded" at a -fuzztime duration
# boundary on a loaded machine (go.dev/issue/75804, fixed in go1.27).
FUZZTIME ?= 50000x
# package:FuzzTarget pairs run by `make fuzz`.
# Every parser of outside input has one; each has a committed seed corpus
# under its package's testdata/fuzz/, which plain `go test` replays.
FUZZ_TARGETS = ./internal/protocol:FuzzParseForm ./internal/protocol:FuzzParseJSON \
	./internal/secret:FuzzKindOf ./internal/secret:FuzzParse ./internal/token:FuzzVerifyJWT \
	./internal/gateway:FuzzRoutes ./internal/gateway:FuzzBearerHeader ./internal/gateway:FuzzSignedLink \
	./internal/gateway:FuzzGatewayRequest ./internal/clients:FuzzCheckRedirectURI \
	./internal/authserver:FuzzBasicCredentials ./internal/authserver:FuzzTokenEndpoint \
	./internal/apisession:FuzzSessionEndpoints ./internal/federation:FuzzVerify \
	./internal/federation:FuzzIdPDocuments ./internal/httpx:FuzzClientIP ./internal/websession:FuzzSessionCookie \
	./internal/console:FuzzSettingsForm ./internal/pats:FuzzParseExpiry ./internal/egress:FuzzPublic \
	./sdk:FuzzTokenResponse

.PHONY: test vet fuzz bench build quickstart

test: vet
	$(GO) test -race -count=1 -timeout 15m ./...

vet:
	$(GO) vet ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/app ./internal/secret ./internal/token
	$(GO) run ./cmd/gatehouse bench

build:
	$(GO) build -o gatehouse ./cmd/gatehouse

quickstart:
	$(GO) run ./cmd/gatehouse quickstart
