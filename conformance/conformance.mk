# The conformance suite and the server image (included by the top-level Makefile).
#
#   make image                      the image FROM scratch (Dockerfile), nothing pulled: tagged
#                                   facematch:<content hash> and $(IMAGE)
#   make bin/facematch-conformance  the compiled suite, to run against any server (conformance/README.md)
#   make conformance                the suite against a container of the image (testcontainers-go)
#   make conformance-process        the suite against bin/facematch serve on a temporary data folder
#   make conformance-selftest       the suite against a deliberately broken server (the real one behind
#                                   conformance/internal/brokenproxy)
#   make conformance-unit           vet, the suite's own unit tests, BEHAVIOURS.md up to date, the SDK example
#   make conformance-all            all of the above, in that order
#   make behaviours                 regenerate conformance/BEHAVIOURS.md
#
# Reports (JUnit with expected failures applied, Ginkgo's raw JUnit, reproducer files, server logs)
# go to $(CONFORMANCE_OUT)/<mode>/. Extra suite flags: CONFORMANCE_FLAGS='-certify' or
# CONFORMANCE_FLAGS='-ginkgo.label-filter=FM-AUTH-1'.

IMAGE_REPO ?= facematch
IMAGE ?= $(IMAGE_REPO):dev
CONFORMANCE_OUT ?= build/conformance
CONFORMANCE_FLAGS ?=
CONFORMANCE_GO_FILES := $(shell find conformance -name '*.go' -not -path '*/selftest/*' -not -path '*/refimpl/*' 2>/dev/null) conformance/go.mod conformance/go.sum

# No reaper: none can be pulled here, and the suite removes the containers it starts.
conformance_env = TESTCONTAINERS_RYUK_DISABLED=true FACEMATCH_SHARED=$(FACEMATCH_SHARED)

.PHONY: image conformance conformance-process conformance-selftest conformance-unit conformance-all behaviours

# image stages the binary, its libraries and the models into build/image, names the image after
# the content hash of that tree, builds it only when no image has that name yet, and removes the
# older content-hash tags.
image: build models
	@hash=$$(conformance/image/stage.sh bin/facematch models build/image) || exit 1; \
	tag=$(IMAGE_REPO):$$hash; \
	if docker image inspect $$tag >/dev/null 2>&1; then echo "image $$tag is up to date"; \
	else echo "building $$tag"; DOCKER_BUILDKIT=0 docker build -q -f Dockerfile -t $$tag . >/dev/null || exit 1; fi; \
	docker tag $$tag $(IMAGE); \
	for old in $$(docker images $(IMAGE_REPO) --format '{{.Tag}}' | grep -E '^[0-9a-f]{12}$$' | grep -v "^$$hash$$"); do \
		docker rmi -f $(IMAGE_REPO):$$old >/dev/null; done; \
	echo "$(IMAGE) = $$tag ($$(docker image inspect -f '{{.Size}}' $$tag | awk '{printf "%d MB", $$1/1e6}'))"

# The suite embeds its own copy of the contract (it is a module of its own and imports nothing of
# the server's); contract_copy_test.go at the root fails when the copy is stale.
conformance/openapi.yaml: openapi.yaml
	cp openapi.yaml $@

# The photos the suite names (photos.txt), copied from the shared fixtures to be embedded in the
# binary (build tag embedphotos); the copy is ignored by git.
CONFORMANCE_PHOTOS := $(shell cat conformance/internal/fixtures/photos.txt 2>/dev/null)
conformance/internal/fixtures/photos/.copied: conformance/internal/fixtures/photos.txt
	@rm -rf conformance/internal/fixtures/photos
	@for f in $(CONFORMANCE_PHOTOS); do mkdir -p conformance/internal/fixtures/photos/$$(dirname $$f) && \
		cp $(SHARED)/fixtures/faces/$$f conformance/internal/fixtures/photos/$$f || exit 1; done
	@touch $@

# The suite as one binary to run anywhere: photos embedded, symbols stripped (under 30 MB).
bin/facematch-conformance: $(CONFORMANCE_GO_FILES) conformance/openapi.yaml conformance/internal/fixtures/photos/.copied
	cd conformance && $(GO) build -tags embedphotos -ldflags='-s -w' -o ../bin/facematch-conformance ./cmd/facematch-conformance

conformance: image bin/facematch-conformance
	@mkdir -p $(CONFORMANCE_OUT)/container
	$(conformance_env) FACEMATCH_TARGET=container FACEMATCH_IMAGE=$(IMAGE) FACEMATCH_ARTIFACTS=$(CONFORMANCE_OUT)/container \
		bin/facematch-conformance -junit $(CONFORMANCE_OUT)/container/junit.xml \
		-ginkgo.junit-report=$(CONFORMANCE_OUT)/container/ginkgo-junit.xml $(CONFORMANCE_FLAGS)

conformance-process: build models bin/facematch-conformance
	@mkdir -p $(CONFORMANCE_OUT)/process
	$(conformance_env) FACEMATCH_TARGET=process FACEMATCH_BIN=$(CURDIR)/bin/facematch FACEMATCH_MODELS=$(CURDIR)/models \
		FACEMATCH_ARTIFACTS=$(CONFORMANCE_OUT)/process \
		bin/facematch-conformance -junit $(CONFORMANCE_OUT)/process/junit.xml \
		-ginkgo.junit-report=$(CONFORMANCE_OUT)/process/ginkgo-junit.xml $(CONFORMANCE_FLAGS)

conformance-selftest: build models bin/facematch-conformance
	cd conformance && $(conformance_env) FACEMATCH_CONFORMANCE_BIN=$(CURDIR)/bin/facematch-conformance \
		FACEMATCH_BIN=$(CURDIR)/bin/facematch FACEMATCH_MODELS=$(CURDIR)/models $(GO) test -count=1 ./selftest

conformance-unit: image
	@unformatted=$$(gofmt -l conformance); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	cd conformance && $(GO) vet ./... && $(GO) run ./cmd/behaviours -check && \
		$(conformance_env) FACEMATCH_IMAGE=$(IMAGE) $(GO) test -count=1 ./internal/... ./facematchtest

conformance-all: image conformance-unit conformance conformance-process conformance-selftest

behaviours:
	cd conformance && $(GO) generate ./...
