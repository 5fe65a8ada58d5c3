# bpftop-cap: `make` builds ./bpftop-cap with Go alone (the BPF objects are
# generated and committed); `make test` runs every test, the privileged
# end-to-end ones included (as root it installs what they need first:
# .ci/deps); `make test-unit` what needs no root, in well under a minute.
GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT     ?= $(shell $(GO) env GOROOT 2>/dev/null)/bin/gofmt
BINARY    ?= bpftop-cap
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 20s
# Each fuzz target also runs FUZZSHORT inputs inside `make test`. A count,
# not a duration: go1.26's fuzz coordinator can fail a duration-bounded run
# with a spurious "context deadline exceeded" (golang/go#75804).
FUZZSHORT ?= 20000x
FUZZ_TARGETS := ./bpf:FuzzParseRecord ./pcapfile:FuzzReadCapture ./decode:FuzzDecode ./decode:FuzzDecodeLink ./decode:FuzzReassemble ./decode:FuzzFastPath ./filter:FuzzCompile ./filter:FuzzMatch
BENCHTIME ?= 1s
# staticcheck for make lint, installed into .bin/ when missing: 2026.2.2
# supports Go 1.26.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(CURDIR)/.bin/staticcheck
# make install: DESTDIR (staging) and PREFIX as usual.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
# make install-extcap: Wireshark's extcap folder as tshark -G folders names
# it, the personal one where there is one (Wireshark 4.2+), else the global.
EXTCAPDIR   ?= $(shell tshark -G folders 2>/dev/null | awk -F'\t' '/^Personal Extcap path:/ {p = $$NF} /^(Global )?Extcap path:/ {g = $$NF} END {print (p != "" ? p : g)}')

.PHONY: all build check-go generate check-generated man install install-extcap uninstall-extcap test test-unit bench soak fuzz lint screenshot image rootfs help clean

all: build

# The Go that go.mod asks for, and the one installed (GOTOOLCHAIN=local and
# outside the module: the installed one itself, not one it would fetch).
GO_NEED = $(shell sed -n 's/^go //p' go.mod)
GO_HAVE = $(shell cd / && GOTOOLCHAIN=local $(GO) version 2>/dev/null | sed -n 's/^go version go\([^ ]*\) .*/\1/p')
GO_OLDEST = $(shell printf '%s\n%s\n' '$(GO_NEED)' '$(GO_HAVE)' | sort -V | head -n1)

check-go: # one line and a stop when the installed Go is missing or older than go.mod's
	$(if $(GO_HAVE),,$(error bpftop-cap needs Go $(GO_NEED) or later and found no $(GO): get it from https://go.dev/dl/))
	$(if $(filter $(GO_NEED),$(GO_OLDEST)),,$(error bpftop-cap needs Go $(GO_NEED) or later; $(GO) is go$(GO_HAVE): get a newer one from https://go.dev/dl/))
	@:

build: check-go ## build ./bpftop-cap (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

generate: ## rebuild the BPF objects and Go bindings with clang (Debian: clang llvm libbpf-dev)
	$(GO) generate ./bpf/

check-generated: generate ## fail if the committed BPF objects differ from the source
	git diff --exit-code -- bpf/

man: check-go ## write the man page and the bash and zsh completions from the flag table (committed; a test checks them)
	$(GO) run . --man-page > docs/bpftop-cap.1
	$(GO) run . --completion bash > completions/bpftop-cap.bash
	$(GO) run . --completion zsh > completions/_bpftop-cap

install: build ## install the binary, the man page and the completions into $(DESTDIR)$(PREFIX) (/usr/local)
	install -D -m 0755 $(BINARY) $(DESTDIR)$(BINDIR)/bpftop-cap
	install -D -m 0644 docs/bpftop-cap.1 $(DESTDIR)$(MANDIR)/man1/bpftop-cap.1
	install -D -m 0644 completions/bpftop-cap.bash $(DESTDIR)$(BASHCOMPDIR)/bpftop-cap
	install -D -m 0644 completions/_bpftop-cap $(DESTDIR)$(ZSHCOMPDIR)/_bpftop-cap

install-extcap: install ## install, then link bpftop-cap into Wireshark's extcap folder (EXTCAPDIR; tshark -G folders names it)
	$(if $(EXTCAPDIR),,$(error tshark -G folders names no extcap folder: give EXTCAPDIR=DIR))
	install -d $(DESTDIR)$(EXTCAPDIR)
	ln -sf $(BINDIR)/bpftop-cap $(DESTDIR)$(EXTCAPDIR)/bpftop-cap

uninstall-extcap: ## remove the link make install-extcap made
	$(if $(EXTCAPDIR),,$(error tshark -G folders names no extcap folder: give EXTCAPDIR=DIR))
	if [ -L $(DESTDIR)$(EXTCAPDIR)/bpftop-cap ]; then rm $(DESTDIR)$(EXTCAPDIR)/bpftop-cap; fi

test: check-go ## run all tests (as root: installs what they need, then e2e tests attach real BPF programs in private namespaces), then each fuzz target briefly
	@if [ "$$(id -u)" = 0 ]; then .ci/deps; \
	else echo "make test: not root: the test packages are not checked or installed (.ci/deps), and the tests that need root skip"; fi
	CGO_ENABLED=0 $(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZSHORT)

test-unit: check-go ## the tests that need no root (go test -short, all but e2e/), in well under a minute; as root too
	$(GO) test -short $$($(GO) list ./... | grep -v '/e2e$$')

bench: ## micro benchmarks, then (as root) the veth capture benchmark and the soak run, all written to BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./... | tee .bench-micro.txt
	BENCH_OUT=$(CURDIR)/BENCHMARKS.md $(GO) test -tags benchveth -run TestBenchVeth -count=1 -timeout 60m -v ./e2e/
	BENCH_OUT=$(CURDIR)/BENCHMARKS.md $(GO) test -tags benchveth -run TestBenchAny -count=1 -timeout 30m -v ./e2e/
	BENCH_OUT=$(CURDIR)/BENCHMARKS.md $(GO) test -tags benchveth -run TestBenchStart -count=1 -timeout 10m -v ./e2e/
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

lint: check-go $(STATICCHECK) ## go vet, gofmt and staticcheck (installed into .bin/ when missing)
	$(GO) vet ./...
	@test -z "$$($(GOFMT) -l . | tee /dev/stderr)" || { echo "gofmt: the files above need $(GOFMT) -w"; exit 1; }
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/.bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

screenshot: ## (root, tmux) docs/screenshot.svg, the README's picture, from a real --demo run (scripts/screenshot.sh)
	GO=$(GO) scripts/screenshot.sh docs/screenshot.svg

# make image: the container image (Containerfile), named IMAGE, built by
# the first of podman, docker and buildah found. make rootfs: the same
# files as a directory, ROOTFS, for a machine with none of them.
IMAGE  ?= bpftop-cap:$(VERSION)
ROOTFS ?= rootfs
CONTAINER_ENGINE ?= $(firstword $(foreach e,podman docker buildah,$(shell command -v $(e) 2>/dev/null)))

image: build ## the container image IMAGE (FROM scratch and the static binary: Containerfile) with podman, docker or buildah
	$(if $(CONTAINER_ENGINE),,$(error no podman, docker or buildah found: make rootfs lays out the image's files as a directory))
	$(CONTAINER_ENGINE) build -f Containerfile -t $(IMAGE) .

rootfs: build ## the image's root filesystem as a directory, ROOTFS (./rootfs): usr/local/bin/bpftop-cap, nothing else
	install -d -m 0755 $(ROOTFS)/usr/local/bin
	install -m 0755 $(BINARY) $(ROOTFS)/usr/local/bin/bpftop-cap

clean:
	rm -f $(BINARY)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:[^#]*## /\t/'
