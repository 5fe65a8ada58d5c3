# bpftop-cap: `make` builds ./bpftop-cap with Go alone (the BPF objects are
# generated and committed); `make test` runs every test, the privileged
# end-to-end ones included (they need root, tcpdump and iproute2).
GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BINARY    ?= bpftop-cap
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 20s
# Each fuzz target also runs FUZZSHORT inputs inside `make test`. A count,
# not a duration: go1.26's fuzz coordinator can fail a duration-bounded run
# with a spurious "context deadline exceeded" (golang/go#75804).
FUZZSHORT ?= 20000x
FUZZ_TARGETS := ./bpf:FuzzParseRecord ./capture:FuzzReadCapture ./decode:FuzzDecode ./filter:FuzzCompile ./filter:FuzzMatch
BENCHTIME ?= 1s

.PHONY: all build generate check-generated test bench soak fuzz lint help clean

all: build

build: ## build ./bpftop-cap (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

generate: ## rebuild the BPF objects and Go bindings with clang (Debian: clang llvm libbpf-dev)
	$(GO) generate ./bpf/

check-generated: generate ## fail if the committed BPF objects differ from the source
	git diff --exit-code -- bpf/

test: ## run all tests (as root: e2e tests attach real BPF programs in private namespaces), then each fuzz target briefly
	CGO_ENABLED=0 $(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZSHORT)

bench: ## micro benchmarks, then (as root) the veth capture benchmark and the soak run, all written to BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./... | tee .bench-micro.txt
	BENCH_OUT=$(CURDIR)/BENCHMARKS.md $(GO) test -tags benchveth -run TestBenchVeth -count=1 -timeout 60m -v ./e2e/
	@$(MAKE) --no-print-directory soak
	@{ echo; echo '## Micro benchmarks'; echo; echo 'From the same `make bench` (`go test -run ^$$ -bench . -benchmem ./...`):'; \
	  echo; echo '```'; grep -E '^(goos|goarch|cpu|pkg|Benchmark)' .bench-micro.txt; echo '```'; } >> BENCHMARKS.md
	@rm -f .bench-micro.txt

soak: ## (root) the live view at full rate until the kernel saw SOAK_PACKETS (10M); appends to BENCHMARKS.md
	BENCH_OUT=$(CURDIR)/BENCHMARKS.md $(GO) test -tags benchveth -run TestSoakTUI -count=1 -timeout 30m -v ./e2e/

fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; f=$${t##*:}; echo "fuzz $$pkg $$f for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

lint: ## go vet, gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)"

clean:
	rm -f $(BINARY)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
