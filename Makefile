# Payments platform: one entry point for every job. Run `make help`.
#
# Node.js is only the CDK's runtime: package.json pins node@22 and the aws-cdk
# CLI, and node_modules/.bin comes first on PATH so that both the CLI and the
# jsii runtime started by the Go app use that Node.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= dev
CONTEXT ?=
CDK_FLAGS = -c environmentSuffix=$(ENV) $(CONTEXT)
# The stacks of one environment. The app also synthesizes the account setup
# (PaymentsAccount, no suffix), which only `make account-setup` deploys and
# nothing removes.
ENV_STACKS = 'Payments*-$(ENV)'

# Go package roots (`./...` would descend into node_modules, which ships Go
# template files of `cdk init`).
GO_PACKAGES := ./cmd/... ./environment/... ./database/... ./metrics/... ./gateway/... ./openapi/... ./merchantadmin/... ./audit/... ./infra/... ./postgres/... ./payments/... ./http/... ./emf/... ./sqs/... ./test/... ./diagram/... ./assembly/... ./cost/... ./local/... ./e2e/...

export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# No update checks or telemetry from the CLI: synth must not need a network.
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true
export GOFLAGS := -buildvcs=false

NODE_STAMP := node_modules/.package-lock.json

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The SQS server of the local platform (package local), pinned apart from
# the CDK's toolchain.
LOCALSQS_STAMP := tools/localsqs/node_modules/.package-lock.json
$(LOCALSQS_STAMP): tools/localsqs/package.json tools/localsqs/package-lock.json $(NODE_STAMP)
	npm ci --prefix tools/localsqs --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: deps
deps: $(NODE_STAMP) ## install the pinned Node.js and CDK CLI, download Go modules
	go mod download
	@echo "node $$(node --version), cdk $$(cdk --version), $$(go version | cut -d' ' -f3)"

.PHONY: synth
synth: deps ## synthesize every stack offline, run cdk-nag, print the compliance summary
	cdk synth --quiet --lookups=false --no-notices $(CDK_FLAGS)
	go run ./cmd/nagreport cdk.out

# Tests start throwaway PostgreSQL servers (postgres/pgtest); install the
# server binaries from Debian when they are missing.
.PHONY: postgres
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
		echo "installing PostgreSQL from Debian"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq postgresql >/dev/null; \
	fi
	@# pgaudit, as Aurora loads it (the tests check what it logs).
	@v=$$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sed 's|/usr/lib/postgresql/\([0-9]*\)/bin|\1|' | sort -n | tail -1); \
	if [ -n "$$v" ] && [ ! -f /usr/lib/postgresql/$$v/lib/pgaudit.so ]; then \
		echo "installing pgaudit for PostgreSQL $$v from Debian"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq postgresql-$$v-pgaudit >/dev/null; \
	fi

.PHONY: test
test: deps postgres $(LOCALSQS_STAMP) ## run the unit, template, PostgreSQL and end-to-end tests (no AWS account needed)
	go vet $(GO_PACKAGES)
	go test -count=1 $(GO_PACKAGES)

.PHONY: run
run: deps postgres $(LOCALSQS_STAMP) ## run the platform on this machine (API, outbox relay, SQS, processor, PostgreSQL) until Ctrl-C; ADDR= to listen elsewhere than 127.0.0.1:8080
	go build -o build/local ./cmd/local
	./build/local $(if $(ADDR),-addr $(ADDR))

.PHONY: e2e
e2e: deps postgres $(LOCALSQS_STAMP) ## 500 payments through the platform on this machine: create, replay, read, list, settle, a processor killed mid-batch
	cd e2e && E2E_PAYMENTS=$${E2E_PAYMENTS:-500} go test -count=1 -v -run . .

# Run in the package directory so that go test shows the one-line skip (or
# the failures) even when the package passes.
.PHONY: integration
integration: ## check the deployed ENV through cfn-outputs/flat-outputs.json (needs AWS credentials and the client certificate)
	cd test/integration && go test -count=1 -timeout 30m

# The committed diagram is of the default environment (dev, no extra
# context) whatever ENV or CONTEXT say; a test in infra fails when it no
# longer matches the app.
.PHONY: diagram
diagram: override ENV = dev
diagram: override CONTEXT =
diagram: synth ## redraw docs/architecture.{dot,svg} from cdk.out (installs Graphviz from Debian if missing)
	@command -v dot >/dev/null || { echo "installing Graphviz from Debian"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq graphviz >/dev/null; }
	go run ./cmd/diagram cdk.out > docs/architecture.dot
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg
	@echo "wrote docs/architecture.dot and docs/architecture.svg"

# Both environments' assemblies: cdk.out (non-production) and
# cdk.out.production, without extra context; a test in infra fails when
# docs/COST.md is stale.
.PHONY: cost
cost: override CONTEXT =
cost: synth ## estimate a non-production and a production month from the templates; rewrites the tables in docs/COST.md
	cdk synth --quiet --lookups=false --no-notices -c environmentSuffix=$(ENV) -c production=true $(CONTEXT) -o cdk.out.production
	go run ./cmd/costmodel cdk.out cdk.out.production docs/COST.md

.PHONY: bench-synth
bench-synth: deps ## time the full synth against a one-resource app, as a ratio
	go run ./cmd/synthbench

.PHONY: diff
diff: deps ## compare the synthesized stacks with what is deployed (needs AWS credentials)
	cdk diff --all --no-notices $(CDK_FLAGS)

.PHONY: bootstrap
bootstrap: deps ## bootstrap the CDK toolkit in every environment the app uses (primary and replica region; needs AWS credentials)
	cdk bootstrap --no-notices $(CDK_FLAGS)

.PHONY: account-setup
account-setup: deps ## once per account and region, like bootstrap: API Gateway's CloudWatch role; CONTEXT="-c auditTrail=true" adds the account's trail (docs/AUDIT.md; needs AWS credentials)
	cdk deploy PaymentsAccount --no-notices --require-approval never $(CDK_FLAGS)

# Synthesizes with the target account's lookups (read-only), then checks the
# account against what that synthesis would consume.
.PHONY: preflight
preflight: deps ## read-only checks before a deploy: credentials, hosted zone, certificates, bootstrap in both regions, account setup, Docker, quotas
	cdk synth --quiet --no-notices $(CDK_FLAGS) -o cdk.out.preflight >/dev/null
	go run ./cmd/preflight -assembly cdk.out.preflight $(CDK_FLAGS) $(PREFLIGHT)

.PHONY: deploy
deploy: preflight ## deploy every stack of ENV (default dev) in dependency order after make preflight; writes cfn-outputs/flat-outputs.json
	mkdir -p cfn-outputs
	cdk deploy $(ENV_STACKS) --no-notices --require-approval never $(CDK_FLAGS) --outputs-file cfn-outputs/all-outputs.json
	go run ./cmd/flatoutputs cfn-outputs/all-outputs.json cfn-outputs/flat-outputs.json

.PHONY: destroy
destroy: deps ## destroy every stack of ENV (non-production environments leave nothing behind; the account setup stays)
	cdk destroy $(ENV_STACKS) --force --no-notices $(CDK_FLAGS)

.PHONY: redrive-dlq
redrive-dlq: ## move ENV's dead-letter queue back to its payment queue once the cause is fixed (docs/RUNBOOK.md; needs AWS credentials)
	go run ./cmd/redrive -env $(ENV) -wait

.PHONY: audit-verify
audit-verify: ## verify ENV's payment histories and their signed anchors; prints the first broken links (docs/AUDIT.md; needs AWS credentials)
	go run ./cmd/audit verify -env $(ENV)

.PHONY: payment-history
payment-history: ## print what happened to PAYMENT in ENV, event by event, and check its chain (needs AWS credentials)
	@test -n "$(PAYMENT)" || { echo "set PAYMENT=<payment id>"; exit 1; }
	go run ./cmd/audit history -env $(ENV) -payment $(PAYMENT)

# A merchant: MERCHANT=<id>, its client certificate CERT (default: one the
# development CA issues, certs/merchants/<id>.pem), optionally READER=<ARN of
# the merchant's IAM role> that may read its API key.
MERCHANT ?=
CERT ?= certs/merchants/$(MERCHANT).pem
READER ?=

.PHONY: merchant-onboard
merchant-onboard: ## onboard MERCHANT in ENV: register its certificate, create its rotated API key (docs/FRONT-DOOR.md, Merchants; needs AWS credentials)
	@test -n "$(MERCHANT)" || { echo "set MERCHANT=<id>"; exit 1; }
	@test -f "$(CERT)" || go run ./cmd/devcerts -merchant $(MERCHANT)
	go run ./cmd/merchant onboard -env $(ENV) -id $(MERCHANT) -cert $(CERT) $(if $(READER),-reader $(READER)) -wait

.PHONY: merchant-offboard
merchant-offboard: ## offboard MERCHANT from ENV: its keys, registry entry, reader grant and secret go (needs AWS credentials)
	@test -n "$(MERCHANT)" || { echo "set MERCHANT=<id>"; exit 1; }
	go run ./cmd/merchant offboard -env $(ENV) -id $(MERCHANT)

.PHONY: merchants
merchants: ## list ENV's merchants and their API-key secrets (needs AWS credentials)
	go run ./cmd/merchant list -env $(ENV)

.PHONY: clean
clean: ## remove build outputs
	rm -rf cdk.out cdk.out.production cdk.out.preflight build

.PHONY: measure
measure: ## the code's shape: lines per package, largest functions, go vet, staticcheck, duplicates (when installed)
	go run ./cmd/codestats
	go vet $(GO_PACKAGES)
	go run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(GO_PACKAGES)
	@if command -v duplicates >/dev/null; then duplicates; else echo "duplicates is not installed: skipped"; fi

.PHONY: bench-api
bench-api: postgres ## benchmark the API against pgbench running the same transaction, then 10,000 connections
	@command -v wrk >/dev/null || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq wrk >/dev/null; }
	go run ./cmd/apibench

.PHONY: dev-certs
dev-certs: ## create a test CA and client certificate in certs/ (ignored by git) for a non-production truststore
	go run ./cmd/devcerts

.PHONY: bench-processor
bench-processor: postgres ## settle payments through the processor handler vs raw SQL of the same transaction, as a ratio
	PROCESSOR_BENCH=1 go test -count=1 -run TestProcessorThroughput -v ./cmd/processor | grep -v '^=== RUN\|^--- PASS\|^PASS'
