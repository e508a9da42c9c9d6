# Fuzzing: every go test -fuzz target for a bounded time each (see docs/reliability.md).
#
#   make fuzz                 each target for 20 s (about 3 minutes in all with compilation)
#   make fuzz FUZZTIME=2m     longer
.PHONY: fuzz

FUZZTIME ?= 20s

fuzz: deps
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash tools/fuzz.sh
