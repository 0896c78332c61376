#!/usr/bin/env bash
# make fuzz: run every harness for FUZZ_SECONDS (default 60) each, one at a
# time at nice 10, starting from the seed corpus tests/fuzz/corpus/NAME/
# and its dictionary tests/fuzz/NAME.dict.  New inputs go to
# build/fuzz/corpus/NAME/ (not committed); crashes to build/fuzz/crashes/.
# Any crash fails the run: add the input to tests/fuzz/corpus/NAME/ as a
# regression input and a named test to tests/unit/test_regress.c.
#   FUZZ_ONLY=pattern   only harnesses whose name contains pattern
#   FUZZ_ALLOW=tag,...  go on past the known bugs with these tags (fuzz.h)
#   FUZZ_SEEDS=1        regenerate the seed corpora first (tests/fuzz/seeds.py,
#                       root: real clients on 127.0.0.1, tcpdump on lo)
# Prints, per harness, the executions and executions per second.
set -u
cd "$(dirname "$0")/../.."
[ "${FUZZ_SEEDS:-0}" = 1 ] && { /usr/bin/python3 tests/fuzz/seeds.py || exit 1; }
bash tests/fuzz/build.sh || echo "run.sh: build incomplete (above); fuzzing what was built" >&2
SECS=${FUZZ_SECONDS:-60}
rc=0
for bin in build/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	case "$name" in *${FUZZ_ONLY:-}*) ;; *) continue ;; esac
	work=build/fuzz/corpus/$name
	mkdir -p "$work" build/fuzz/crashes
	dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	seeds=(); [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
	mkdir -p build/fuzz/logs
	log=build/fuzz/logs/$name.log
	nice -n "${FUZZ_NICE:-10}" "$bin" "${dict[@]}" -max_total_time="$SECS" -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix=build/fuzz/crashes/"$name"- \
		-print_final_stats=1 "$work" "${seeds[@]}" >"$log" 2>&1
	st=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	printf '%-16s %12s execs %8s/s  corpus %s\n' "$name" "${execs:-?}" "${eps:-?}" \
		"$(ls "$work" | wc -l)"
	if [ "$st" -ne 0 ]; then
		rc=1
		echo "   FAILED: $name (log $log, input in build/fuzz/crashes/)"
		grep -E 'property failed|ERROR: |SUMMARY|^    #[0-9] ' "$log" | head -8 | sed 's/^/   /'
	fi
done
exit $rc
