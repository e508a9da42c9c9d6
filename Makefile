# facematch: the Face Match API and its conformance suite.
#
#   make run          install what is missing, build models and binary, serve on 127.0.0.1:8080
#   make test         every test (unit, API, conformance)
#   make build        bin/facematch
#   make models       models/ from packaged sources (see docs/models.md)
#   make bench        matcher benchmark: ratios against plain dlib, worker scaling, memory
#   make scalebench   SQLite against PostgreSQL and replicas: req/s, statements, store ceilings, peak memory
#   make calibration  docs/calibration.md and its pictures, measured on the LFW development pairs

GO ?= go
# How long make test fuzzes each target.
CI_FUZZTIME ?= 10s
SHARED ?= $(CURDIR)/../shared
export FACEMATCH_SHARED := $(abspath $(SHARED))

.DEFAULT_GOAL := build
.PHONY: build deps run test bench scalebench calibration clean sandbox-smoke

include tools/models.mk
-include conformance/conformance.mk
include tools/fuzz.mk

# Debian packages the cgo parts need (dlib and its BLAS/LAPACK, libjpeg-turbo), PostgreSQL,
# which the store and replica tests start (internal/pgtest), NumPy, for the age/gender network's
# reference computation (agegender/testdata/reference.py), and chromium, the real browser of the
# console's tests (console/browser_test.go).
DEBIAN_PACKAGES := libdlib-dev libdlib-data libblas-dev liblapack-dev libopenblas-dev libjpeg-dev postgresql python3-numpy chromium

# deps installs the missing Debian packages (as root) and gives go-face the libcblas.so it links
# with: Debian ships that name only with ATLAS, so it points at OpenBLAS, which has the symbols.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run as root, or apt-get install them)" >&2; exit 1; fi; \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi
	@if [ ! -e /usr/lib/x86_64-linux-gnu/libcblas.so ] && [ ! -e /usr/local/lib/libcblas.so ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "libcblas.so is missing: ln -s /usr/lib/x86_64-linux-gnu/libopenblas.so.0 /usr/local/lib/libcblas.so (as root)" >&2; exit 1; fi; \
		echo "linking /usr/local/lib/libcblas.so to OpenBLAS"; \
		ln -sf /usr/lib/x86_64-linux-gnu/libopenblas.so.0 /usr/local/lib/libcblas.so && ldconfig; \
	fi

# The commit is stamped for `facematch version` also where Go's own VCS stamping does not reach
# (a git worktree, GOFLAGS=-buildvcs=false).
build: deps
	$(GO) build -ldflags "-X github.com/facematch/facematch/cli.commit=$$(git rev-parse HEAD 2>/dev/null)" -o bin/facematch ./cmd/facematch

run: deps models build
	bin/facematch serve --demo --data data --models models

# test runs every test: the module's (unit, API over real HTTP, crash), every fuzz target for a
# bounded time, then the conformance suite in container and process modes with its self-test.
# Not meant for make -j.
test: deps models bin/dlibraw build
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CI_FUZZTIME)
	$(MAKE) --no-print-directory conformance-all
	$(MAKE) --no-print-directory sandbox-smoke

# sandbox-smoke starts the image as an SDK author does (default command, FACEMATCH_SANDBOX_KEY
# only) and runs the plain-Python client against it.
sandbox-smoke: image
	tools/sandbox/smoke.sh $(IMAGE)

bench: deps models bin/dlibraw build
	$(GO) run ./tools/matcherbench
	$(GO) run ./tools/apibench

# scalebench measures, in one run, 1 server on SQLite, 1 and 2 on PostgreSQL, what a request costs
# the database, the ceilings of both stores, and a 2-worker server's peak memory under load
# (docs/scaling.md).
scalebench: deps models build
	$(GO) run ./tools/scalebench

calibration: deps models
	$(GO) run ./tools/calibrate -out docs
	$(GO) run ./tools/attributes

clean:
	rm -rf bin build
