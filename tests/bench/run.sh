#!/usr/bin/env bash
# make bench: every tests/bench/*.sh (but this one) in turn.  Each prints
# its figures as ratios against the real counterpart measured in the same
# run (opentracker, aria2c, libtorrent, tshark).  Not part of make test.
set -u
cd "$(dirname "$0")/../.."
export BTKIT_BIN=${BTKIT_BIN:-$PWD/${BUILD:-build}/bin}
rc=0
for b in tests/bench/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	echo "== $(basename "$b")"
	bash "$b" || rc=1
done
exit $rc
