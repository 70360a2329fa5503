# ipclab's front door. Every target says what it does and stops at the first error.
GO      ?= go
PYTHON  ?= /usr/bin/python3
OUT     ?= out
BIN     := $(OUT)/bin/ipclab
# The kernel spec for demo/html goes under out/, so nothing outside the tree changes.
JUPYTER_PREFIX := $(abspath $(OUT)/jupyter)
export JUPYTER_PATH := $(JUPYTER_PREFIX)/share/jupyter
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NOTEBOOK ?= notebooks/shared-memory-vs-message-passing.ipynb
# The newest gopls that builds with Go 1.26.
GOPLS_VERSION := v0.23.0

DEBIAN_PACKAGES := jupyter-notebook jupyter-server python3-jupyter-client python3-nbclient \
	python3-nbconvert python3-jupyter-kernel-test iproute2 gcc make chromium \
	jupyter-client jupyterhub node-configurable-http-proxy
# The notebook the JupyterLab test opens (tests/jupyterlab, make test-jupyterlab).
JUPYTERLAB_NOTEBOOK ?= $(NOTEBOOK)

.PHONY: setup build install install-user demo html reproduce test lint bench bench-kernel bench-verdicts bench-waits gallery clean \
	test-jupyterlab jupyterlab-build test-readme test-hub class-load assignments

setup: ## install Debian's Jupyter, Chromium, gcc, iproute2, the Go modules and gopls
	@echo "== setup: Debian packages: $(DEBIAN_PACKAGES)"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES)
	@echo "== setup: Go modules"
	$(GO) mod download
	cd tests/browser && $(GO) mod download
	cd tests/jupyterlab && $(GO) mod download
	@echo "== setup: npm packages of the JupyterLab front end (tests/jupyterlab, from package-lock.json)"
	@command -v npm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
	cd tests/jupyterlab && npm ci --no-audit --no-fund
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

demo: install ## run $(NOTEBOOK) (the showcase) through the kernel and write out/<name>.html
	@echo "== demo: executing $(NOTEBOOK) with the ipclab kernel"
	$(PYTHON) tools/publish.py --kernel ipclab --out $(OUT) $(NOTEBOOK)

html: install ## run every notebook and write its HTML (and executed .ipynb) under out/
	@echo "== html: $(wildcard notebooks/*.ipynb)"
	$(PYTHON) tools/publish.py --kernel ipclab --out $(OUT) notebooks/*.ipynb

reproduce: install ## the showcase's verdicts quiet, with one core busy, and on one CPU (tools/reproduce)
	@echo "== reproduce: $(NOTEBOOK) three ways"
	OUT=$(OUT) PYTHON=$(PYTHON) tools/reproduce $(NOTEBOOK)

lint: ## gofmt and go vet
	@echo "== lint: gofmt"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	@echo "== lint: go vet"
	$(GO) vet ./...
	cd tests/browser && $(GO) vet ./...
	cd tests/jupyterlab && $(GO) vet .

test: lint ## everything CI runs: lint, unit tests, race tests, Jupyter clients, notebooks, a browser
	@mkdir -p $(OUT) && tests/leftovers.sh snapshot $(OUT)/leftovers.before
	@echo "== test: ipc with the race detector"
	$(GO) test -race -timeout 20m ./ipc/...
	@echo "== test: all packages"
	$(GO) test -timeout 60m ./...
	@echo "== test: the tour in Chromium behind Jupyter Notebook (tests/browser)"
	cd tests/browser && $(GO) test -timeout 20m ./...
	$(MAKE) --no-print-directory test-jupyterlab
	@echo "== test: nothing left behind (tests/leftovers.sh)"
	tests/leftovers.sh check $(OUT)/leftovers.before

test-readme: ## run the README's shell commands in a scratch HOME (also part of go test ./...)
	$(GO) test -count=1 -v ./tests/readme

jupyterlab-build: ## bundle the JupyterLab 4 front end in tests/jupyterlab/build (npm ci first if needed)
	@echo "== jupyterlab: bundling JupyterLab's npm packages (tests/jupyterlab/build)"
	@test -d tests/jupyterlab/node_modules || { cd tests/jupyterlab && npm ci --no-audit --no-fund; }
	cd tests/jupyterlab && npm run --silent build

test-jupyterlab: jupyterlab-build ## run $(JUPYTERLAB_NOTEBOOK) in JupyterLab's front end in Chromium; screenshots out/jupyterlab-*.png
	@echo "== test: $(JUPYTERLAB_NOTEBOOK) in JupyterLab 4 (tests/jupyterlab) behind Debian's jupyter-server, in Chromium"
	cd tests/jupyterlab && IPCLAB_JUPYTERLAB_NOTEBOOK=$(abspath $(JUPYTERLAB_NOTEBOOK)) \
		IPCLAB_SCREENSHOT_DIR=$(abspath $(OUT)) $(GO) test -count=1 -timeout 30m -v .

bench: ## Go benchmarks of ipc, and ipclab bench against the C probe (tables in ipc/README.md)
	@echo "== bench: Go benchmarks of ipc"
	$(GO) test -run XXX -bench . -benchtime 200ms ./ipc
	@echo "== bench: ipclab bench vs the C probe (bench/run)"
	bench/run

clean:
	rm -rf $(OUT)

bench-verdicts: ## a notebook-sized experiment 5x quiet and 5x with a busy core: is "shared memory faster" the same each time?
	@echo "== bench: verdicts, quiet and with one core busy (bench/verdicts)"
	$(GO) run ./bench/verdicts -runs 5

bench-waits: install ## ring wait strategies from a notebook and from the CLI, quiet and with a busy core
	@echo "== bench: wait strategies, notebook vs CLI (bench/wait_table.py)"
	$(PYTHON) bench/wait_table.py --binary $(BIN)

bench-kernel: install ## kernel start time and trivial-cell latency through jupyter_client
	@echo "== bench: kernel latency (Jupyter client -> ipclab kernel)"
	$(PYTHON) bench/kernel_latency.py --cells 30

gallery: ## redraw docs/plots/*.svg and docs/plots.md from plots/testdata
	@echo "== gallery: docs/plots from plots/testdata"
	$(GO) run ./plots/internal/gallery

test-hub: ## ipclab under Debian's JupyterHub with three real users (root; also part of make test's go test ./...)
	@echo "== test-hub: JupyterHub, three students, isolation, runaway cells (tests/hub)"
	$(GO) test -count=1 -v -timeout 45m ./tests/hub/

CLASS ?= 5 10 20 40
class-load: install ## N students x 1 kernel each (N = $(CLASS)), a short notebook each; table for docs/class-load.md
	@echo "== class-load: $(CLASS) students through jupyter_client"
	$(PYTHON) bench/classload.py --students $(CLASS) --kernel ipclab --json $(OUT)/class-load.json

assignments: build ## write the student version of each notebooks/assignments/source/NAME/NAME.ipynb into release/NAME/
	@for src in notebooks/assignments/source/*/*.ipynb; do \
		dir=notebooks/assignments/release/$$(basename $$(dirname $$src)); \
		echo "== assignments: $$src -> $$dir"; \
		$(BIN) assign $$src -o $$dir || exit 1; \
	done
