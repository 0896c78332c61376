#!/usr/bin/env bash
# make fuzz: run every harness for FUZZ_SECONDS (default 60) each, starting
# from the seed corpus tests/fuzz/corpus/NAME/ and its dictionary
# tests/fuzz/NAME.dict.  New inputs go to build/fuzz/corpus/NAME/ (not
# committed); crashes to build/fuzz/crashes/.  Any crash fails the run:
# add the input to tests/fuzz/corpus/NAME/ as a regression input.
set -u
cd "$(dirname "$0")/../.."
bash tests/fuzz/build.sh || exit 1
SECS=${FUZZ_SECONDS:-60}
rc=0
for bin in build/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	work=build/fuzz/corpus/$name
	mkdir -p "$work" build/fuzz/crashes
	dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	seeds=(); [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
	echo "== $name: ${SECS}s"
	"$bin" "${dict[@]}" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/crashes/"$name"- -print_final_stats=1 \
		"$work" "${seeds[@]}" 2>&1 | grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|INFO: seed corpus|Done)' \
		|| true
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "   FAILED: $name (see build/fuzz/crashes/)"; rc=1; }
done
exit $rc
