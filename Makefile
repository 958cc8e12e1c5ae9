# sipbus — build, test, benchmark, lint, run.
#
#   make test    every module alone (GOWORK=off): vet + tests against real
#                NATS (embedded server module) and a real redis-server
#   make test-node  the Node example's tests only (node, npm, SIPp)
#   make schemas-doc  regenerate schemas/EVENTS.md (pkg/schemadoc; a test fails when it is stale)
#   make up      run everything in one process (go run ./cmd/sipbus up)
#   make bench   sipbus side by side with Kamailio (bench/bench.sh): REGISTER
#                and call throughput, latency, per-call cost, micro-benchmarks;
#                writes bench/RESULTS.md and ends with ratio_register= / ratio_calls=
#   make bench-micro  parser, store, bus and in-process NATS benchmarks with allocations
#   make lint    gofmt + go vet
#   make fuzz    each fuzz target for FUZZTIME (default 20s)
#   make image   the container image (Dockerfile; DOCKER=podman works too)
#   make k8s-apiserver-test  opt-in: both k8s overlays applied (server-side
#                dry-run) to a real kube-apiserver + Debian's etcd (k8s/README.md)

MODULES := pkg schemas services/edge services/tm services/registrar services/notifier services/ctd services/web cmd/sipbus sdk/go examples/call-screening examples/after-hours examples/missed-counter k8s
GO      ?= go
TESTFLAGS ?= -count=1 -timeout 15m
FUZZTIME ?= 20s
BENCHTIME ?= 1s

.PHONY: all build test test-node test-node-unit test-race schemas-doc bench bench-micro lint fmt fuzz up clean image

all: lint build test

build:
	@set -e; for m in $(MODULES); do echo "== build $$m"; (cd $$m && $(GO) build ./...); done
	$(GO) build -o bin/sipbus ./cmd/sipbus
	$(GO) build -o bin/edge ./services/edge/cmd/edge
	$(GO) build -o bin/tm ./services/tm/cmd/tm
	$(GO) build -o bin/registrar ./services/registrar/cmd/registrar
	$(GO) build -o bin/notifier ./services/notifier/cmd/notifier
	$(GO) build -o bin/web ./services/web/cmd/web
	$(GO) build -o bin/ctd ./services/ctd/cmd/ctd

# Each module is tested on its own (GOWORK=off), which also proves its go.mod
# is complete; the workspace build above proves they fit together.
test:
	@set -e; for m in $(MODULES); do echo "== test $$m"; (cd $$m && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test $(TESTFLAGS) ./...); done
	@if command -v node >/dev/null 2>&1; then $(MAKE) --no-print-directory test-node-unit; else echo "node not found: install nodejs npm (.ci/run does)"; exit 1; fi

# The Node example (examples/call-screening-node): its unit tests (node
# --test) and its end-to-end test against `sipbus up` with SIPp (Go test
# TestExampleCallScreeningNode in cmd/sipbus, which `make test` runs with
# the rest of cmd/sipbus; it runs `npm ci` once and fails without node/npm).
test-node-unit:
	cd examples/call-screening-node && node --test sip.test.js

test-node: test-node-unit
	cd cmd/sipbus && GOWORK=off $(GO) test $(TESTFLAGS) -run 'TestExampleCallScreeningNode$$' .

test-race:
	@set -e; for m in $(MODULES); do echo "== race $$m"; (cd $$m && $(GO) test -race $(TESTFLAGS) ./...); done

bench:
	bench/bench.sh

bench-micro:
	cd pkg && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./sipmsg/ ./store/ ./bus/ ./natsembed/

lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fmt:
	gofmt -w $(MODULES)

# Every fuzz target, FUZZTIME each (module dir, package, target).
FUZZ_TARGETS := \
	services/edge:./internal/ports:FuzzWSFrames services/edge:./internal/ports:FuzzWSUpgrade \
	pkg:./sipmsg:FuzzParse pkg:./sipmsg:FuzzFramer pkg:./sipmsg:FuzzParseURI \
	pkg:./sipmsg:FuzzParseNameAddr pkg:./sipmsg:FuzzParseVia pkg:./sipmsg:FuzzReply \
	pkg:./bus:FuzzDecodeData pkg:./events:FuzzDecodeCommand pkg:./sipfsm:FuzzNext pkg:./digest:FuzzVerify pkg:./digest:FuzzParseCredentials pkg:./digest:FuzzParseChallenge \
	pkg:./location:FuzzParseAOR pkg:./location:FuzzSameContact pkg:./location:FuzzCodec pkg:./subscriber:FuzzParseAOR \
	services/edge:./internal/app:FuzzParseDest services/edge:./internal/app:FuzzSIPCounts services/edge:./internal/stun:FuzzReply pkg:./events:FuzzDecodeSIP pkg:./events:FuzzParseDest services/tm:./internal/routes:FuzzParse \
	services/tm:./internal/app:FuzzEngine services/tm:./internal/app:FuzzPtxJSON services/tm:./internal/uac:FuzzDecode pkg:./sipdns:FuzzExtract pkg:./httpfront:FuzzDecodeJSON \
	services/registrar:./internal/app:FuzzDecide pkg:./sipmsg:FuzzSplitList \
	services/registrar:./internal/ports:FuzzAuthCheck \
	services/notifier:./internal/app:FuzzText services/notifier:./internal/app:FuzzCallbackURI \
	services/notifier:./internal/app:FuzzExecEnv services/notifier:./internal/config:FuzzParseSMTP \
	services/notifier:./internal/adapters:FuzzMessage \
	services/ctd:./internal/app:FuzzParseSipfrag services/ctd:./internal/app:FuzzNext services/ctd:./internal/ports:FuzzAPI services/ctd:.:FuzzParseDialogRequest \
	cmd/sipbus:./internal/replay:FuzzDecode cmd/sipbus:./internal/rebuild:FuzzDecode \
	services/notifier:./internal/ports:FuzzDecodeStructured pkg:./mgmt:FuzzMerge \
	pkg:./websession:FuzzDecode services/web:./internal/app:FuzzCleanEntry

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		m=$${t%%:*}; rest=$${t#*:}; p=$${rest%%:*}; f=$${rest#*:}; \
		echo "== fuzz $$m $$p $$f"; (cd $$m && $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$p); \
	done

up:
	$(GO) run ./cmd/sipbus up

# The contract page: every event and command with subject, schema, example.
schemas-doc:
	cd pkg && $(GO) run ./schemadoc/cmd/schemadoc -o ../schemas/EVENTS.md

# The container image every k8s/ manifest runs. Needs docker (or podman,
# DOCKER=podman) with BuildKit; the test in k8s/ checks the manifests
# against this Dockerfile without building it.
IMAGE  ?= ghcr.io/sipbus/sipbus:dev
DOCKER ?= docker
image:
	$(DOCKER) build -t $(IMAGE) .

clean:
	rm -rf bin

# Opt-in, not in `make test`: k8s/apiserver_test.go (build tag apiserver)
# applies both overlays to a real kube-apiserver with server-side dry-run.
# kube-apiserver is built once from the Go module proxy (k8s/apiserver/tools)
# into KUBE_APISERVER, beside the Go build cache; etcd is Debian's
# etcd-server.
KUBE_VERSION := v1.37.2
KUBE_APISERVER ?= $(abspath $(shell $(GO) env GOCACHE)/../sipbus-kube-apiserver/$(KUBE_VERSION)/kube-apiserver)

.PHONY: k8s-apiserver-test
k8s-apiserver-test: $(KUBE_APISERVER)
	@command -v etcd >/dev/null 2>&1 || { echo "etcd not found: apt-get install -y etcd-server"; exit 1; }
	cd k8s && GOWORK=off KUBE_APISERVER="$(KUBE_APISERVER)" $(GO) test -tags apiserver -count=1 -timeout 15m -run 'TestAPIServer$$' -v .

$(KUBE_APISERVER):
	@echo "== building kube-apiserver $(KUBE_VERSION) from the Go module proxy (once) into $@"
	@mkdir -p "$(dir $@)"
	cd k8s/apiserver/tools && GOWORK=off $(GO) build -trimpath -o "$@.tmp" \
		-ldflags "-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" \
		k8s.io/kubernetes/cmd/kube-apiserver
	@mv "$@.tmp" "$@"
