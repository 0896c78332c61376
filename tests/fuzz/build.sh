#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer binary in build/fuzz/,
# with the library compiled by clang under ASan+UBSan and coverage.
# Harnesses are compiled with warnings as errors; tests/fuzz/fuzz.h holds
# their shared helpers.  FUZZ_ONLY=pattern builds only the harnesses whose
# name contains it (as in run.sh).
set -u
cd "$(dirname "$0")/../.."
OUT=build/fuzz
mkdir -p "$OUT/obj"
CLANG=${CLANG:-clang}
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Icommon \
 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
WFLAGS="-Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wvla"
LIBS=$(pkg-config --libs libpcap openssl libcurl zlib 2>/dev/null || echo "-lpcap -lssl -lcrypto -lcurl -lz")
# A library file that does not compile (someone is half-way through it) is
# reported and left out: the harnesses that do not need it still build,
# and the exit status says something failed.
rc=0
objs=()
for c in common/*.c; do
	o="$OUT/obj/$(basename "${c%.c}").o"
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find common -name '*.h' -newer "$o" | head -1)" ]; then
		if ! $CLANG $FLAGS -c "$c" -o "$o"; then
			echo "build.sh: $c does not compile; harnesses built without it" >&2
			rm -f "$o"
			rc=1
			continue
		fi
	fi
	objs+=("$o")
done
for f in tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	name=$(basename "${f%.c}")
	case "$name" in *"${FUZZ_ONLY:-}"*) ;; *) continue ;; esac
	bin="$OUT/$name"
	if [ ! -x "$bin" ] || [ "$f" -nt "$bin" ] || [ tests/fuzz/fuzz.h -nt "$bin" ] ||
	   [ -n "$(find "$OUT/obj" -newer "$bin" | head -1)" ]; then
		if ! $CLANG $FLAGS $WFLAGS -fsanitize=fuzzer "$f" "${objs[@]}" $LIBS -o "$bin"; then
			echo "build.sh: $name not built" >&2
			rm -f "$bin"
			rc=1
		fi
	fi
done
exit $rc
