#!/usr/bin/env python3
"""make leakcheck: the CLI suites of tests/run.py (cases, eval, golden, and
the batch suite, whose worker threads, block pool and -o handling the others
do not reach) with
every tendo command run under

    valgrind --leak-check=full --error-exitcode=1

on the release build (valgrind and ASan do not mix), with TENDO_NO_JIT=1.  Each suite keeps its
own expectations (stdout, stderr, exit status); on top of that, any
valgrind error -- a leak, an invalid read or write, a use of uninitialised
memory -- fails the command, even when the expected exit status is 1
anyway.  valgrind's report goes to a log file, so stderr stays comparable.

Usage: fuzz/leakcheck.py BUILD_DIR [-k PATTERN]
"""
import importlib.util
import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALGRIND = ["valgrind", "--leak-check=full", "--error-exitcode=1",
            "--errors-for-leak-kinds=definite,possible", "--show-leak-kinds=definite,possible",
            "--track-origins=yes", "-q"]


def load_runner():
    spec = importlib.util.spec_from_file_location("tendo_tests_run", os.path.join(ROOT, "tests", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    build = os.path.abspath(args[0])
    pattern = args[args.index("-k") + 1] if "-k" in args else ""
    m = load_runner()
    m.TIMEOUT = 600          # valgrind is 20-50 times slower
    plain_run = m.run
    reports = []
    count = [0]

    def valgrind_run(cmd, cwd=m.ROOT, stdin=None, env=None):
        fd, log = tempfile.mkstemp(prefix="tendo-vg-", suffix=".log")
        os.close(fd)
        try:
            rc, out, err = plain_run(VALGRIND + ["--log-file=" + log] + list(cmd), cwd, stdin, env)
            with open(log, encoding="utf-8", errors="replace") as f:
                report = f.read()
        finally:
            os.unlink(log)
        count[0] += 1
        if report.strip() or re.search(r"ERROR SUMMARY: [1-9]", report):
            reports.append("$ (cd %s && %s)\n%s" % (os.path.relpath(cwd, ROOT) if cwd else ".",
                                                    " ".join(cmd), report))
        return rc, out, err

    # PCRE2's JIT code reads whole words past the end of a subject (safe,
    # but reported as uninitialised); the interpreter gives the same answers.
    os.environ["TENDO_NO_JIT"] = "1"
    m.run = valgrind_run
    m.binaries = lambda b: [("valgrind", os.path.join(b, "tendo"))]
    res = m.Results(pattern)
    m.suite_cases(build, res)
    m.suite_eval(build, res)
    m.suite_golden(build, res, False)
    for name, fn in m.load_extra_suites():
        if name == "batch":
            fn(build, res, m.suite_helpers())
    for r in reports:
        print("VALGRIND %s" % m.indent(r))
    print("leakcheck: %d commands under valgrind, %d with valgrind errors; %d passed, %d failed"
          % (count[0], len(reports), res.passed, len(res.failed)))
    sys.exit(1 if reports or res.failed else 0)


if __name__ == "__main__":
    main()
