#!/usr/bin/env bash
# Runs every suite and prints one closing line: "N passed, N failed, N skipped".
#
# Every suite prints lines "ok NAME", "not ok NAME" or "skip NAME (why)";
# unit binaries in $BUILD/tests, integration scripts in tests/integration.
# A suite that crashes or exits non-zero without a "not ok" counts one
# failure, so a dead suite is never silent.  TESTS=pattern narrows the run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
export BUILD BTKIT_BIN="$BUILD/bin"
pass=0 fail=0 skip=0
failed_names=()
logdir=$BUILD/test-logs
mkdir -p "$logdir"

run_suite() { # name, command...
	local name=$1; shift
	case "$name" in *${TESTS:-}*) ;; *) return ;; esac
	local log="$logdir/${name//\//_}.log" rc p f s
	echo "== $name"
	timeout -k 10 "${SUITE_TIMEOUT:-600}" "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep -c '^skip ' "$log")
	grep -E '^(not ok |skip |#   )' "$log" | sed 's/^/   /'
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   not ok $name: exited $rc without a failing test (see $log)"
		tail -5 "$log" | sed 's/^/   | /'
		f=1
	fi
	echo "   $p passed, $f failed, $s skipped"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	[ "$f" -gt 0 ] && failed_names+=("$name")
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t"
done
for t in tests/integration/*.sh tests/integration/*.py; do
	[ -f "$t" ] || continue
	case "$t" in
	*.py) run_suite "integration/$(basename "$t")" /usr/bin/python3 "$t" ;;
	*)    run_suite "integration/$(basename "$t")" bash "$t" ;;
	esac
done

[ ${#failed_names[@]} -gt 0 ] && echo "failed suites: ${failed_names[*]}"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
