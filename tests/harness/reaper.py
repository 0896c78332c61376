#!/usr/bin/python3
"""Last line of defence for the harness: stops its processes if it dies.

harness.py starts one reaper per Harness (in its own session, without
PDEATHSIG) and appends "PID STARTTIME NAME" lines to REGISTRY for every
process it starts.  If the harness process dies without cleaning up (SIGKILL,
OOM), the reaper notices (its parent PID changes), SIGTERMs every recorded
process that still exists with the same start time (so a recycled PID is never
hit), SIGKILLs what is left after a few seconds, and exits.  On a normal
close the harness stops the reaper by PID.

usage: reaper.py PARENT_PID REGISTRY [WORKDIR]
With WORKDIR, it also removes that directory once the processes are gone.
"""
import os
import shutil
import signal
import sys
import time


def starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return fields[19]  # field 22 of stat: start time in clock ticks


def main():
    parent, registry = int(sys.argv[1]), sys.argv[2]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while os.getppid() == parent:
        time.sleep(0.3)
    try:
        with open(registry) as f:
            entries = [line.split()[:2] for line in f if line.strip()]
    except OSError:
        return 0
    victims = [int(p) for p, st in entries if starttime(int(p)) == st]
    for p in victims:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(starttime(p) for p in victims):
        time.sleep(0.1)
    for p in victims:
        if starttime(p) is not None:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    sys.stderr.write("reaper: harness pid %d died; stopped %s\n" % (parent, victims))
    if len(sys.argv) > 3:
        shutil.rmtree(sys.argv[3], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
