# ipclab's front door. Every target says what it does and stops at the first error.
GO      ?= go
PYTHON  ?= /usr/bin/python3
OUT     ?= out
BIN     := $(OUT)/bin/ipclab
# The kernel spec for demo/html goes under out/, so nothing outside the tree changes.
JUPYTER_PREFIX := $(abspath $(OUT)/jupyter)
export JUPYTER_PATH := $(JUPYTER_PREFIX)/share/jupyter
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NOTEBOOK ?= notebooks/tour.ipynb
# The newest gopls that builds with Go 1.26.
GOPLS_VERSION := v0.23.0

DEBIAN_PACKAGES := jupyter-notebook jupyter-server python3-jupyter-client python3-nbclient \
	python3-nbconvert python3-jupyter-kernel-test iproute2 gcc make chromium

.PHONY: setup build install install-user demo html test lint bench bench-kernel gallery clean

setup: ## install Debian's Jupyter, Chromium, gcc, iproute2, the Go modules and gopls
	@echo "== setup: Debian packages: $(DEBIAN_PACKAGES)"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES)
	@echo "== setup: Go modules"
	$(GO) mod download
	cd tests/browser && $(GO) mod download
	@echo "== setup: gopls $(GOPLS_VERSION) (completion and inspection in the kernel)"
	GOFLAGS=-mod=mod $(GO) install golang.org/x/tools/gopls@$(GOPLS_VERSION)
	@echo "== setup: done"

build: ## build out/bin/ipclab
	@echo "== build: $(BIN)"
	$(GO) build -o $(BIN) ./cmd/ipclab

install: build ## install the kernel spec under out/jupyter (make install-user for ~/.local)
	@echo "== install: kernel spec into $(JUPYTER_PREFIX)"
	$(BIN) install --prefix $(JUPYTER_PREFIX)

install-user: build
	$(BIN) install --user

demo: install ## run $(NOTEBOOK) through the kernel and write out/<name>.html
	@echo "== demo: executing $(NOTEBOOK) with the ipclab kernel"
	$(PYTHON) -m nbconvert --to html --execute --ExecutePreprocessor.timeout=900 \
		--ExecutePreprocessor.kernel_name=ipclab --output-dir $(OUT) $(NOTEBOOK)
	@echo "== demo: wrote $(OUT)/$(basename $(notdir $(NOTEBOOK))).html"

html: install ## run every notebook and write its HTML under out/
	@for nb in notebooks/*.ipynb; do \
		echo "== html: $$nb"; \
		$(PYTHON) -m nbconvert --to html --execute --ExecutePreprocessor.timeout=900 \
			--ExecutePreprocessor.kernel_name=ipclab --output-dir $(OUT) $$nb || exit 1; \
	done

lint: ## gofmt and go vet
	@echo "== lint: gofmt"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	@echo "== lint: go vet"
	$(GO) vet ./...
	cd tests/browser && $(GO) vet ./...

test: lint ## everything CI runs: lint, unit tests, race tests, Jupyter clients, notebooks, a browser
	@mkdir -p $(OUT) && tests/leftovers.sh snapshot $(OUT)/leftovers.before
	@echo "== test: ipc with the race detector"
	$(GO) test -race -timeout 20m ./ipc/...
	@echo "== test: all packages"
	$(GO) test -timeout 60m ./...
	@echo "== test: the tour in Chromium behind Jupyter Notebook (tests/browser)"
	cd tests/browser && $(GO) test -timeout 20m ./...
	@echo "== test: nothing left behind (tests/leftovers.sh)"
	tests/leftovers.sh check $(OUT)/leftovers.before

bench: ## Go benchmarks of ipc, and ipclab bench against the C probe (tables in ipc/README.md)
	@echo "== bench: Go benchmarks of ipc"
	$(GO) test -run XXX -bench . -benchtime 200ms ./ipc
	@echo "== bench: ipclab bench vs the C probe (bench/run)"
	bench/run

clean:
	rm -rf $(OUT)

bench-kernel: install ## kernel start time and trivial-cell latency through jupyter_client
	@echo "== bench: kernel latency (Jupyter client -> ipclab kernel)"
	$(PYTHON) bench/kernel_latency.py --cells 30

gallery: ## redraw docs/plots/*.svg and docs/plots.md from plots/testdata
	@echo "== gallery: docs/plots from plots/testdata"
	$(GO) run ./plots/internal/gallery
