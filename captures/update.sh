#!/bin/sh
# Regenerates every NAME.out (and NAME.err) of captures/TESTLIST from its
# pcap with the bt-decode in $BTKIT_BIN (default build/bin).  Review the
# diff before committing: the goldens are what the tests hold us to.
set -eu
cd "$(dirname "$0")"
BIN=${BTKIT_BIN:-../build/bin}
export TZ=UTC
grep -v '^#' TESTLIST | while read -r name pcap opts; do
	[ -n "$name" ] || continue
	# shellcheck disable=SC2086  # opts are words
	"$BIN/bt-decode" -r "$pcap" $opts >"$name.out" 2>"$name.err" || true
	[ -s "$name.err" ] || rm -f "$name.err"
	echo "$name"
done
