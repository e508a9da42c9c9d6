#!/usr/bin/env bash
# Runs every fuzz target of the repository for a bounded time each (FUZZTIME, default 20s; any
# value go test's -fuzztime takes, e.g. 2m or 100000x), one after the other, with FUZZ_PARALLEL
# workers (default 2). A target fails when it finds a crasher: go test then writes the input to
# <package>/testdata/fuzz/<target>/, where it becomes a seed once fixed; commit it.
#
#   tools/fuzz.sh                 every target, 20 s each
#   FUZZTIME=2m tools/fuzz.sh     longer
#   tools/fuzz.sh FuzzDecode      only the targets named
#
# Go 1.26's fuzzing coordinator can end a run at the -fuzztime deadline with "context deadline
# exceeded" and no failing input (golang/go#75804, fixed in Go 1.27): that outcome is reported
# as a warning, not a failure, since no input failed.
set -uo pipefail

cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-2}
GO=${GO:-go}

targets=(
	"./imageinfo FuzzReadHeader"
	"./imaging FuzzDecode"
	"./server FuzzFaceMatchForm"
	"./server FuzzMetadata"
	"./server FuzzDestination"
	"./webhook FuzzCanonical"
)

failed=0
ran=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
		continue
	fi
	ran=$((ran + 1))
	corpus="$pkg/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort)
	log=$(mktemp)
	start=$(date +%s)
	echo "== $name ($pkg, $FUZZTIME)"
	$GO test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZ_PARALLEL" >"$log" 2>&1
	rc=$?
	after=$(ls "$corpus" 2>/dev/null | sort)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$')
	tail -n 1 "$log" | sed 's/^/   /'
	grep -E '^fuzz: elapsed' "$log" | tail -n 1 | sed 's/^/   /'
	if [ $rc -ne 0 ]; then
		if [ -z "$new" ] && ! grep -q 'Failing input written to' "$log" && grep -q 'context deadline exceeded' "$log"; then
			echo "   warning: ended by Go's fuzzing deadline race (golang/go#75804), no failing input"
		else
			if grep -q -e '\[build failed\]' -e '\[setup failed\]' "$log"; then
				echo "   FAIL: $name did not build"
			elif [ -n "$new" ]; then
				echo "   FAIL: $name found a crasher: $corpus/$new"
			else
				echo "   FAIL: $name failed"
			fi
			sed 's/^/   | /' "$log" | grep -v '^   | fuzz: elapsed' | tail -n 40
			failed=$((failed + 1))
		fi
	fi
	echo "   $(($(date +%s) - start)) s"
	rm -f "$log"
done
echo "fuzz: $((ran - failed)) passed, $failed failed"
[ $failed -eq 0 ]
