"""The integration-test reporting every tests/integration/*.py shares.

tests/run.sh counts lines "ok NAME", "not ok NAME" and "skip NAME (why)";
this module prints them and remembers failures so finish() can set the
exit status.  Detail lines start with "#".
"""
import sys
import traceback

failed = []


def ok(name):
    print("ok " + name, flush=True)


def not_ok(name, why):
    failed.append(name)
    why = str(why).strip().replace("\n", "\n#   ")
    print("not ok %s: %s" % (name, why), flush=True)


def skip(name, why):
    print("skip %s (%s)" % (name, why), flush=True)


def note(msg):
    print("# " + msg, flush=True)


def check(name, fn, *args):
    """Run fn(*args): an exception, False, or a string (the reason) is
    'not ok'; anything else is 'ok'.  Returns fn's result (None on error)."""
    try:
        r = fn(*args)
    except Exception as e:  # report and keep going
        tb = traceback.format_exc().strip().splitlines()
        where = tb[-3].strip() if len(tb) > 2 else ""
        not_ok(name, "%s: %s (%s)" % (type(e).__name__, e, where))
        return None
    if r is False:
        not_ok(name, "check failed")
    elif isinstance(r, str):
        not_ok(name, r)
    else:
        ok(name)
    return r


def finish():
    """Exit 0 when nothing failed, 1 otherwise."""
    sys.exit(1 if failed else 0)
