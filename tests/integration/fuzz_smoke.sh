#!/usr/bin/env bash
# Every libFuzzer harness: replay its committed corpus (regression inputs)
# and fuzz for FUZZ_SMOKE seconds (default 5).  Part of make test.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang >/dev/null; then echo "not ok fuzz_build: clang missing (make deps)"; exit 1; fi
if ! bash tests/fuzz/build.sh >build/fuzz-build.log 2>&1; then
	echo "not ok fuzz_build"; tail -20 build/fuzz-build.log; exit 1
fi
echo "ok fuzz_build"
SECS=${FUZZ_SMOKE:-5}
for bin in build/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	work=$(mktemp -d)
	dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	seeds=(); [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
	if out=$("$bin" "${dict[@]}" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix="$work/" "$work" "${seeds[@]}" 2>&1); then
		echo "ok $name"
	else
		echo "not ok $name"
		echo "$out" | grep -E 'ERROR|SUMMARY|#0 |#1 |#2 ' | head -10 | sed 's/^/#   /'
	fi
	rm -rf "$work"
done
