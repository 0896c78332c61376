#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer binary in build/fuzz/,
# with the library compiled by clang under ASan+UBSan and coverage.
set -eu
cd "$(dirname "$0")/../.."
OUT=build/fuzz
mkdir -p "$OUT/obj"
CLANG=${CLANG:-clang}
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Icommon \
 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
LIBS=$(pkg-config --libs libpcap openssl libcurl 2>/dev/null || echo "-lpcap -lssl -lcrypto -lcurl")
objs=()
for c in common/*.c; do
	o="$OUT/obj/$(basename "${c%.c}").o"
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find common -name '*.h' -newer "$o" | head -1)" ]; then
		$CLANG $FLAGS -c "$c" -o "$o"
	fi
	objs+=("$o")
done
for f in tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	name=$(basename "${f%.c}")
	bin="$OUT/$name"
	if [ ! -x "$bin" ] || [ "$f" -nt "$bin" ] || [ -n "$(find "$OUT/obj" -newer "$bin" | head -1)" ]; then
		$CLANG $FLAGS -fsanitize=fuzzer "$f" "${objs[@]}" $LIBS -o "$bin"
	fi
done
