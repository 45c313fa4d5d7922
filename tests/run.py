#!/usr/bin/env python3
"""tendo test runner: every suite, against the release and the sanitizer build.

Suites
  unit     tests/unit/test_*.c programs (their `ok N` / `not ok N` lines)
  cases    tests/cases/*.test: rule text -> exact diagnostics (with carets)
  eval     tests/eval/*.test: rules + log -> decision and per-rule results
  golden   tests/golden/*.cmd: a command line -> exact stdout, stderr, status
  scenarios tests/scenarios/<protocol>/*.test: clinical scenarios (tests/scenarios/README.md)
  batch    tests/suite_batch.py: cohort evaluation; hostile: tests/suite_hostile.py

Usage: tests/run.py BUILD_DIR [-k PATTERN] [--update-golden]
Ends with the summary line `N passed, M failed`; exits 1 when any failed.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 60


class Results:
    def __init__(self, pattern):
        self.passed = 0
        self.failed = []
        self.pattern = pattern

    def wanted(self, name):
        return not self.pattern or self.pattern in name

    def ok(self, name):
        self.passed += 1

    def fail(self, name, detail):
        self.failed.append(name)
        print("FAIL %s\n%s" % (name, indent(detail)), flush=True)


def indent(text, pad="    "):
    return "\n".join(pad + line for line in str(text).rstrip("\n").split("\n"))


def run(cmd, cwd=ROOT, stdin=None, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    # Sanitizer reports fail the test rather than scroll by.
    full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=99")
    full_env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=99")
    try:
        p = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, timeout=TIMEOUT, env=full_env)
    except subprocess.TimeoutExpired:
        return 124, b"", b"timed out after %d s" % TIMEOUT
    return p.returncode, p.stdout, p.stderr


def binaries(build):
    out = [("release", os.path.join(build, "tendo"))]
    asan = os.path.join(build, "tendo-asan")
    if os.environ.get("TENDO_NO_ASAN") != "1" and os.path.exists(asan):
        out.append(("asan", asan))
    return out


# ---- case files ------------------------------------------------------------

def parse_blocks(path):
    """Split a case file into cases: `=== title` starts a case, `--- name`
    starts a section; `#` lines outside sections are comments."""
    cases = []
    cur = None
    section = None
    with open(path, encoding="utf-8", newline="") as f:
        lineno = 0
        for line in f:
            lineno += 1
            if line.startswith("=== "):
                cur = {"title": line[4:].strip(), "line": lineno, "sections": {}}
                cases.append(cur)
                section = None
            elif line.startswith("--- ") and cur is not None:
                section = line[4:].strip()
                cur["sections"][section] = ""
            elif cur is not None and section is not None:
                cur["sections"][section] += line
            elif line.strip() and not line.startswith("#"):
                raise SystemExit("%s:%d: text outside a case section" % (path, lineno))
    return cases


def rel(path):
    return os.path.relpath(path, ROOT)


# ---- suites -----------------------------------------------------------------

def suite_unit(build, res):
    for variant in ("obj", "asan"):
        if variant == "asan" and os.environ.get("TENDO_NO_ASAN") == "1":
            continue
        for exe in sorted(glob.glob(os.path.join(build, variant, "unit", "test_*"))):
            name = "unit/%s/%s" % (variant, os.path.basename(exe))
            if not res.wanted(name):
                continue
            rc, out, err = run([exe])
            text = out.decode("utf-8", "replace")
            oks = [l for l in text.splitlines() if l.startswith("ok ")]
            bad = [l for l in text.splitlines() if l.startswith("not ok")]
            for _ in oks:
                res.ok(name)
            for l in bad:
                res.fail("%s: %s" % (name, l), text[-2000:])
            if rc != 0 and not bad:
                res.fail(name, "exit %d\n%s%s" % (rc, text[-2000:], err.decode("utf-8", "replace")[-3000:]))


def rewrite_case_stderr(path, line, new_err):
    """--update-cases: replace the `--- stderr` section of the case that
    starts at `line` (review the diff before committing)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    i = line  # first line after the title
    while i < len(lines) and not lines[i].startswith("=== ") and lines[i] != "--- stderr":
        i += 1
    if i >= len(lines) or lines[i] != "--- stderr":
        return
    j = i + 1
    while j < len(lines) and not lines[j].startswith("=== ") and not lines[j].startswith("--- "):
        j += 1
    body = new_err.split("\n")
    if body and body[-1] == "":
        body = body[:-1]
    lines[i + 1:j] = body
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines))


def suite_cases(build, res, update=False):
    """Diagnostics: each case's `rules` is written to t.rules (beside the
    shared tests/cases/base.rules) and checked; stderr must match exactly."""
    base = os.path.join(ROOT, "tests", "cases", "base.rules")
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "cases", "*.test"))):
        for case in parse_blocks(path):
            name = "%s:%d %s" % (rel(path), case["line"], case["title"])
            if not res.wanted(name):
                continue
            s = case["sections"]
            with tempfile.TemporaryDirectory() as d:
                shutil.copy(base, os.path.join(d, "base.rules"))
                for k, v in s.items():
                    if k.startswith("file "):
                        with open(os.path.join(d, k[5:]), "w", encoding="utf-8", newline="") as f:
                            f.write(v)
                with open(os.path.join(d, "t.rules"), "w", encoding="utf-8", newline="") as f:
                    f.write(s.get("rules", ""))
                want_err = s.get("stderr", "")
                want_rc = int(s.get("exit", "1" if want_err else "0").strip())
                for variant, exe in binaries(build):
                    rc, out, err = run([exe, "check", "t.rules"], cwd=d)
                    got = err.decode("utf-8", "replace")
                    if update and variant == "release" and got != want_err and want_err:
                        rewrite_case_stderr(path, case["line"], got)
                        continue
                    if rc != want_rc or got != want_err:
                        res.fail("%s [%s]" % (name, variant),
                                 "exit %d (want %d)\n--- got stderr\n%s--- want stderr\n%s" % (rc, want_rc, got, want_err))
                    else:
                        res.ok(name)


def check_expectations(lines, rec, name):
    """`key value` lines checked against one JSON decision record.  `rule NAME
    true|false|unknown` checks a trace entry's result; `condition NAME N
    VALUE` the value of its Nth condition; other keys are record fields."""
    errors = []
    trace = {t.get("name"): t for t in rec.get("trace", []) if t.get("name")}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, want = line.partition(" ")
        want = want.strip()
        if key == "rule":
            rname, _, wres = want.partition(" ")
            got = trace.get(rname, {}).get("result", "<not considered>")
            if got != wres:
                errors.append("rule %s: got %s, want %s" % (rname, got, wres))
        elif key == "status":
            rname, _, wst = want.partition(" ")
            got = trace.get(rname, {}).get("status", "<not considered>")
            if got != wst:
                errors.append("rule %s status: got %s, want %s" % (rname, got, wst))
        elif key == "condition":
            rname, idx, wval = want.split(" ", 2)
            conds = trace.get(rname, {}).get("conditions", [])
            i = int(idx)
            c = conds[i] if i < len(conds) else {}
            got = c.get("left", {}).get("value", c.get("value")) if c else "<none>"
            if json.dumps(got) != wval:
                errors.append("condition %s %d: got %s, want %s" % (rname, i, json.dumps(got), wval))
        else:
            got = rec.get(key, "<missing>")
            shown = got if isinstance(got, str) else json.dumps(got)
            if isinstance(got, list):
                shown = ",".join(got) if all(isinstance(x, str) for x in got) else json.dumps(got)
            if shown != want:
                errors.append("%s: got %s, want %s" % (key, shown, want))
    return errors


def suite_eval(build, res):
    """Evaluator semantics: `rules` + `log` (+ optional `args`) -> the first
    patient's JSON record must satisfy every line of `expect`."""
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "eval", "*.test"))):
        for case in parse_blocks(path):
            name = "%s:%d %s" % (rel(path), case["line"], case["title"])
            if not res.wanted(name):
                continue
            s = case["sections"]
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "t.rules"), "w", encoding="utf-8", newline="") as f:
                    f.write(s.get("rules", ""))
                with open(os.path.join(d, "log.csv"), "w", encoding="utf-8", newline="") as f:
                    f.write(s.get("log", ""))
                args = s.get("args", "").split()
                for variant, exe in binaries(build):
                    rc, out, err = run([exe, "eval", "t.rules", "log.csv", "--format", "json"] + args, cwd=d)
                    lines = out.decode("utf-8", "replace").splitlines()
                    if rc != 0 or not lines:
                        res.fail("%s [%s]" % (name, variant), "exit %d\n%s" % (rc, err.decode("utf-8", "replace")))
                        continue
                    try:
                        rec = json.loads(lines[0])
                    except ValueError as e:
                        res.fail("%s [%s]" % (name, variant), "bad JSON: %s\n%s" % (e, lines[0]))
                        continue
                    errors = check_expectations(s.get("expect", "").splitlines(), rec, name)
                    if errors:
                        res.fail("%s [%s]" % (name, variant), "\n".join(errors))
                    else:
                        res.ok(name)


def suite_golden(build, res, update):
    """Each tests/golden/NAME.cmd holds arguments (one line, shell words,
    run from the repository root); NAME.out, NAME.err and NAME.rc hold the
    expected stdout, stderr and exit status.  NAME.in, if present, is stdin."""
    import shlex
    for cmd in sorted(glob.glob(os.path.join(ROOT, "tests", "golden", "*.cmd"))):
        stem = cmd[:-4]
        name = "golden/" + os.path.basename(stem)
        if not res.wanted(name):
            continue
        with open(cmd, encoding="utf-8") as f:
            args = shlex.split(f.read())
        stdin = open(stem + ".in", "rb").read() if os.path.exists(stem + ".in") else None
        for variant, exe in binaries(build):
            rc, out, err = run([exe] + args, stdin=stdin)
            if update and variant == "release":
                open(stem + ".out", "wb").write(out)
                open(stem + ".err", "wb").write(err)
                open(stem + ".rc", "w").write("%d\n" % rc)
            want_out = open(stem + ".out", "rb").read() if os.path.exists(stem + ".out") else b""
            want_err = open(stem + ".err", "rb").read() if os.path.exists(stem + ".err") else b""
            want_rc = int(open(stem + ".rc").read()) if os.path.exists(stem + ".rc") else 0
            problems = []
            if rc != want_rc:
                problems.append("exit %d, want %d" % (rc, want_rc))
            if out != want_out:
                problems.append("stdout differs:\n--- got\n%s--- want\n%s" % (out.decode("utf-8", "replace"), want_out.decode("utf-8", "replace")))
            if err != want_err:
                problems.append("stderr differs:\n--- got\n%s--- want\n%s" % (err.decode("utf-8", "replace"), want_err.decode("utf-8", "replace")))
            if problems:
                res.fail("%s [%s]" % (name, variant), "\n".join(problems))
            else:
                res.ok(name)


def suite_helpers():
    """What the extra suites get from this runner.  Built when called, so
    that a caller that replaced `run` (fuzz/leakcheck.py) hands its own on."""
    return {"run": run, "binaries": binaries, "parse_blocks": parse_blocks, "ROOT": ROOT,
            "check_expectations": check_expectations, "rel": rel}


def load_extra_suites():
    """Further suites live beside this file as tests/suite_*.py, each with
    run(build, res, helpers)."""
    suites = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "suite_*.py"))):
        ns = {"__file__": path, "__name__": os.path.basename(path)[:-3]}
        with open(path, encoding="utf-8") as f:
            exec(compile(f.read(), path, "exec"), ns)
        suites.append((os.path.basename(path)[6:-3], ns["run"]))
    return suites


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("--update-golden", action="store_true")
    ap.add_argument("--update-cases", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    res = Results(a.pattern)
    helpers = suite_helpers()
    suite_unit(build, res)
    suite_cases(build, res, a.update_cases)
    suite_eval(build, res)
    suite_golden(build, res, a.update_golden)
    for _, fn in load_extra_suites():
        fn(build, res, helpers)
    print("%d passed, %d failed" % (res.passed, len(res.failed)))
    sys.exit(1 if res.failed else 0)


if __name__ == "__main__":
    main()
