"""Hostile input (issue 5): tendo must never crash, hang or fail silently.

Every case runs the CLI (release and ASan+UBSan builds) with a time limit
of CASE_TIMEOUT seconds and checks, besides its own expectation, that it
ended without a signal, a sanitizer report or a timeout.

  rejected rule files   exit 1 and an error naming the file and the line
  rejected logs (eval)  exit 3 and an error naming the file and the line
  valid inputs          exit 0 (BOM, CRLF, quoted multi-line notes, ...)
  mutants               any of those, never anything else

Inputs are generated at test time into a temporary directory, from fixed
seeds (truncated and mutated rule files and logs, 200 000 nested
parentheses, a 2 MB identifier, 10 000 columns, a note of several MB, ...);
tests/hostile/ keeps the small regression inputs found by fuzzing, listed in
tests/hostile/MANIFEST.  The allocation-failure sweep runs one realistic
eval with TENDO_FAIL_ALLOC=1, 2, 3, ... until the run no longer reaches the
failure.

Cases in KNOWN are reported, still-open bugs in files this suite does not
own: they print XFAIL (or XPASS once fixed: then delete the entry) and are
not counted.  Environment: TENDO_HOSTILE_JOBS (default 2) parallel runs.
"""
import glob
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CASE_TIMEOUT = 10
SEED = 20250305
JOBS = int(os.environ.get("TENDO_HOSTILE_JOBS", "2"))
SANITIZER_EXIT = 99   # tests/run.py sets ASAN/UBSAN exitcode=99

# Reported bugs in files owned elsewhere (see docs/robustness.md).
KNOWN = {
}

# Allocation numbers of the sweep whose failure is a reported, open bug.
KNOWN_OOM = {}

ERROR_LINE = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+)(?::(?P<col>\d+))?: error: ", re.M)


class Suite:
    def __init__(self, build, res, helpers, tmp):
        self.build = build
        self.res = res
        self.root = helpers["ROOT"]
        self.variants = helpers["binaries"](build)
        self.tmp = tmp
        self.lock = threading.Lock()
        self.jobs = []
        self.xfail = []

    # ---- running ---------------------------------------------------------

    def exec(self, exe, args, cwd, env=None, timeout=CASE_TIMEOUT):
        full = dict(os.environ)
        full.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=%d" % SANITIZER_EXIT)
        full.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=%d" % SANITIZER_EXIT)
        full.update(env or {})
        for attempt in range(20):
            t0 = time.monotonic()
            try:
                p = subprocess.run([exe] + args, cwd=cwd, capture_output=True, timeout=timeout,
                                   env=full, stdin=subprocess.DEVNULL)
                rc, out, err, hung = p.returncode, p.stdout, p.stderr, False
                break
            except subprocess.TimeoutExpired as e:
                rc, out, err, hung = None, e.stdout or b"", e.stderr or b"", True
                break
            except OSError:
                # The binary is being relinked by a concurrent make: wait.
                if attempt == 19:
                    raise
                time.sleep(0.5)
        return {"rc": rc, "out": out, "err": err.decode("utf-8", "replace"),
                "secs": time.monotonic() - t0, "hung": hung}

    @staticmethod
    def health(r):
        """Problems every case checks: hang, signal, sanitizer report."""
        if r["hung"]:
            return ["did not finish within %d s" % CASE_TIMEOUT]
        p = []
        if r["rc"] < 0:
            p.append("killed by signal %d" % -r["rc"])
        if r["rc"] == SANITIZER_EXIT or "Sanitizer" in r["err"] or "runtime error:" in r["err"]:
            p.append("sanitizer report (exit %d)" % r["rc"])
        return p

    @staticmethod
    def located(r, label, line):
        """Every error is located (FILE:LINE[:COL]); one names label (and line)."""
        p = []
        errs = [l for l in r["err"].splitlines() if ": error: " in l]
        if not errs:
            return ["no error message on stderr"]
        for l in errs:
            if not ERROR_LINE.match(l):
                p.append("error without a file and line: %s" % l[:160])
        hits = [m for m in ERROR_LINE.finditer(r["err"]) if m.group("file") == label]
        if not hits:
            p.append("no error names %s:LINE" % label)
        elif line is not None and not any(int(m.group("line")) == line for m in hits):
            p.append("no error names %s:%d (got lines %s)" % (label, line,
                     ", ".join(sorted({m.group("line") for m in hits}))))
        return p

    @staticmethod
    def valid_output(r, args):
        if ": error: " in r["err"]:
            return ["unexpected error: %s" % r["err"][:300]]
        if args[0] == "eval" and "json" in args:
            lines = r["out"].decode("utf-8", "replace").splitlines()
            if not lines:
                return ["no output"]
            for l in lines:
                try:
                    json.loads(l)
                except ValueError as e:
                    return ["stdout is not JSON lines: %s" % e]
        return []

    def check(self, r, args, expect, label, line):
        p = self.health(r)
        if p:
            return p
        rc = r["rc"]
        if expect in ("any-rules", "any-data"):
            if rc == 0:
                return self.valid_output(r, args)
            expect = "rules-error" if expect == "any-rules" or rc == 1 else "data-error"
        if expect == "ok":
            return (["exit %d, want 0" % rc] if rc != 0 else []) + self.valid_output(r, args)
        want = 1 if expect == "rules-error" else 3
        p = [] if rc == want else ["exit %d, want %d" % (rc, want)]
        return p + self.located(r, label, line)

    # ---- recording -------------------------------------------------------

    def record(self, name, problems, detail=""):
        if not self.res.wanted(name):
            return
        with self.lock:
            known = KNOWN.get(name)
            if known and problems:
                self.xfail.append(name)
                print("XFAIL %s: %s (%s)" % (name, problems[0], known), flush=True)
            elif known:
                print("XPASS %s: fixed? remove it from KNOWN in tests/suite_hostile.py" % name, flush=True)
                self.res.ok(name)
            elif problems:
                self.res.fail(name, "\n".join(problems) + ("\n" + detail if detail else ""))
            else:
                self.res.ok(name)

    def case(self, name, args, expect, label=None, line=None, cwd=None, check=None):
        """Queue one command for every variant.  label: the file the error
        must name (default: the last argument that is not an option)."""
        if not self.res.wanted(name):
            return
        if label is None:
            label = [a for a in args if not a.startswith("-") and a not in ("json", "text", "csv")][-1]

        def job():
            problems = []
            detail = ""
            for variant, exe in self.variants:
                r = self.exec(exe, args, cwd or self.tmp)
                p = self.check(r, args, expect, label, line)
                if not p and check:
                    p = check(r)
                if p:
                    problems += ["[%s] %s" % (variant, x) for x in p]
                    detail = "$ tendo %s\n--- stderr\n%s" % (" ".join(args), r["err"][-1500:])
            self.record(name, problems, detail)
        self.jobs.append(job)

    def run_jobs(self):
        with ThreadPoolExecutor(max_workers=max(1, JOBS)) as pool:
            for f in [pool.submit(j) for j in self.jobs]:
                f.result()
        self.jobs = []

    # ---- files -----------------------------------------------------------

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        return name

    def read(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()


# ---- mutation --------------------------------------------------------------

TOKENS = [b"(", b")", b"{", b"}", b"\"", b"/", b",", b"\n", b"..", b"not ", b"and ", b"when ",
          b"because ", b"stage ", b"log ", b"include ", b"one of ", b"last 7 days", b"1e308",
          b"99999999999999999999", b"-", b"#", b"\x00", b"\xff", b"\xc3", b"\xe2\x89\xa4", b"\r\n",
          b"2025-02-30", b"\"\"", b",,,,", b"\t"]


def mutate(data, rng):
    d = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        i = rng.randrange(len(d) + 1)
        if op == 0 and d:                       # flip a byte
            i = min(i, len(d) - 1)
            d[i] ^= 1 << rng.randrange(8)
        elif op == 1:                           # insert a token
            d[i:i] = rng.choice(TOKENS)
        elif op == 2 and d:                     # delete a span
            d[i:i + rng.randint(1, 64)] = b""
        elif op == 3 and d:                     # duplicate a span
            j = rng.randrange(len(d))
            d[i:i] = d[j:j + rng.randint(1, 256)]
        elif op == 4:                           # random bytes
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 5 and d:                     # overwrite with a token
            t = rng.choice(TOKENS)
            d[i:i + len(t)] = t
        elif op == 6 and d:                     # swap two lines
            lines = bytes(d).split(b"\n")
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            d = bytearray(b"\n".join(lines))
    return bytes(d)


# ---- rule files ------------------------------------------------------------

def rules_cases(s):
    base = s.read("tests/cases/base.rules").decode("utf-8")
    nb = base.count("\n")           # the line after base.rules' text
    shutil.copytree(os.path.join(s.root, "rules"), os.path.join(s.tmp, "rules"))
    shutil.copy(os.path.join(s.root, "fuzz", "notes.rules"), os.path.join(s.tmp, "notes.rules"))

    def bad(name, text, line=None):
        f = s.write("r_%s.rules" % name, text)
        s.case("hostile/rules/" + name, ["check", f], "rules-error", line=line)

    def good(name, text):
        f = s.write("r_%s.rules" % name, text)
        s.case("hostile/rules/" + name, ["check", f], "ok")

    # Structure.
    bad("empty_file", "", 1)
    bad("only_comments", "# nothing here\n# at all\n", 1)
    bad("binary_junk", bytes(random.Random(SEED).randrange(256) for _ in range(65536)), 1)
    bad("unclosed_stage_brace", base + 'stage third "3" {\n  do "x" 3 x 3 daily\n', None)
    bad("unclosed_log_brace", base.replace("  session when pain_during is known\n}", "  session when pain_during is known\n"), None)
    bad("extra_closing_braces", base + "}}}\n", nb + 1)
    bad("stray_open_brace", base + "{\n", None)
    bad("paren_200k", base + "y = " + "(" * 200000 + "1" + ")" * 200000 + "\n", nb + 1)
    bad("unclosed_parens", base + "y = " + "(" * 5000 + "1\n", None)
    bad("not_200k", base + "y = " + "not " * 200000 + "true\n", nb + 1)
    bad("minus_200k", base + "y = " + "- " * 200000 + "1\n", nb + 1)
    bad("sum_100k_terms", base + "y = " + " + ".join(["1"] * 100000) + "\n", nb + 1)
    bad("identifier_2mb", base + "a" * (2 * 1024 * 1024) + " = 1\n", nb + 1)
    bad("string_100k", base + 'note_text = "' + "x" * 100000 + '"\n', nb + 1)
    bad("regex_100k", base + "rx2 = /" + "a" * 100000 + "/\n", nb + 1)
    bad("number_huge", base + "y = " + "9" * 400 + "\n", nb + 1)
    big = base + ("# " + "x" * 1000 + "\n") * 4300
    bad("file_over_4mib", big, big.encode()[:4 * 1024 * 1024].count(b"\n") + 1)
    # NUL and invalid UTF-8, inside and outside strings and regexes.
    bad("nul_in_code", base + "y = 1\x00\n", nb + 1)
    bad("nul_in_string", base + 'y = "a\x00b"\n', nb + 1)
    bad("nul_in_regex", base + "y = /a\x00b/\n", nb + 1)
    bad("latin1_in_code", base.encode() + b"y = caf\xe9\n", nb + 1)
    bad("latin1_in_string", base.encode() + b'y = "caf\xe9"\n', nb + 1)
    bad("latin1_in_regex", base.encode() + b"y = /caf\xe9/\n", nb + 1)
    bad("overlong_utf8_in_string", base.encode() + b'y = "\xc0\xaf"\n', nb + 1)
    bad("surrogate_in_string", base.encode() + b'y = "\xed\xa0\x80"\n', nb + 1)
    good("utf8_in_strings_and_comments", base + '# caf\u00e9 \u2264 \U0001F600\nnote_text = "caf\u00e9 \u2014 \U0001F600"\n')
    bad("catastrophic_regex_syntax", base + "y = /(a+)+$(/\n", nb + 1)
    # Limits on counts (the checker and grammar stay linear).
    bad("one_of_5000_values", base.replace("one of midportion, insertional",
        "one of " + ", ".join("v%d" % i for i in range(5000))), 8)
    bad("stages_1200", base + "".join("stage s%d { }\n" % i for i in range(1200)), nb + 1 + 998)
    bad("columns_1100", base.replace("  session when", "".join("  c%d number optional\n" % i for i in range(1100)) + "  session when"), None)
    good("in_list_50k", base + "y = pain_during in (" + ", ".join(str(i % 11) for i in range(50000)) + ")\n")
    good("rules_20k", base + "".join("r%d: hold when pain_during > %d because \"x\"\n" % (i, i % 10) for i in range(20000)))
    good("lets_20k", base + "".join("l%d = %s\n" % (i, "l%d + 1" % (i - 1) if i else "1") for i in range(20000)))
    good("doses_20k", base + 'stage third "3" {\n' + "".join('  do "ex%d" 3 x 15 daily\n' % i for i in range(20000)) + "}\n")
    bad("unknown_names_50k", base + "".join("u%d = nope%d\n" % (i, i) for i in range(50000)), nb + 1)
    # Includes.
    chain = 20
    for i in range(chain):
        s.write("inc/c%d.rules" % i, 'include "c%d.rules"\n' % (i + 1) if i + 1 < chain else "y = 1\n")
    s.case("hostile/rules/include_depth_20", ["check", "inc/c0.rules"], "rules-error", label="inc/c15.rules", line=1)
    s.write("inc/self.rules", 'include "self.rules"\n')
    s.case("hostile/rules/include_self", ["check", "inc/self.rules"], "rules-error", line=1)
    s.write("inc/dir.rules", 'include "."\n')
    s.case("hostile/rules/include_directory", ["check", "inc/dir.rules"], "rules-error", line=1)
    s.write("inc/missing.rules", 'include "no/such/file.rules"\n')
    s.case("hostile/rules/include_missing", ["check", "inc/missing.rules"], "rules-error", line=1)

    # Truncated at seeded offsets, then randomly mutated.
    sources = [("achilles", "rules/achilles.rules"), ("base", None), ("notes", "notes.rules")]
    for tag, path in sources:
        data = base.encode() if path is None else open(os.path.join(s.tmp, path), "rb").read()
        rng = random.Random("%d-trunc-%s" % (SEED, tag))
        for k in range(12):
            cut = rng.randrange(len(data))
            f = s.write("rules/trunc_%s_%02d.rules" % (tag, k), data[:cut])
            s.case("hostile/rules/truncated_%s_%02d" % (tag, k), ["check", f], "any-rules")
        rng = random.Random("%d-mut-%s" % (SEED, tag))
        for k in range(25):
            f = s.write("rules/mut_%s_%02d.rules" % (tag, k), mutate(data, rng))
            s.case("hostile/rules/mutated_%s_%02d" % (tag, k), ["check", f], "any-rules")


# ---- logs ------------------------------------------------------------------

def log_cases(s):
    header = s.read("examples/achilles_midportion.csv").decode("utf-8").split("\n", 1)[0]
    ncols = header.count(",") + 1
    row = "P001,2025-03-03,midportion,running,,isometric,5,5,2,0,no,no,,,,48,"
    row2 = "P001,2025-03-04,midportion,running,,isometric,4,5,2,0,no,no,,,,,"
    R = "rules/achilles.rules"

    def log(name, rows, expect, line=None, raw=None, rules=R, fmt="json"):
        data = raw if raw is not None else (header + "\n" + "".join(r + "\n" for r in rows))
        f = s.write("l_%s.csv" % name, data)
        s.case("hostile/log/" + name, ["eval", rules, f, "--format", fmt], expect, line=line)

    def bad(name, rows, line=None, raw=None):
        log(name, rows, "data-error", line, raw)

    def good(name, rows=None, raw=None, rules=R, check=None):
        data = raw if raw is not None else (header + "\n" + "".join(r + "\n" for r in rows))
        f = s.write("l_%s.csv" % name, data)
        s.case("hostile/log/" + name, ["eval", rules, f, "--format", "json"], "ok", check=check)

    def with_field(i, v, base=row):
        f = base.split(",")
        f[i] = v
        return ",".join(f)

    good("example_midportion", raw=s.read("examples/achilles_midportion.csv"))
    bad("empty_file", None, 1, raw="")
    # No data rows: no patient to decide on (exit 0, nothing written, or an error).
    f = s.write("l_header_only.csv", header + "\n\n\n")
    s.case("hostile/log/header_only_blank_lines", ["eval", R, f, "--format", "csv"], "any-data")
    bad("binary_junk", None, 1, raw=bytes(random.Random(SEED + 1).randrange(256) for _ in range(65536)))
    # Dates.
    for i, d in enumerate(["2025-02-30", "2025-13-01", "2023-02-29", "0000-01-01", "2025-1-1",
                           "99999-01-01", "yesterday", "2025-03-03T10:00", "-2025-03-03"]):
        bad("impossible_date_%d" % i, [with_field(1, d)], 2)
    bad("dates_out_of_order", [row2, row], 3)
    bad("date_duplicated", [row, row], 3)
    # Values.
    for i, (col, v) in enumerate([(6, "11"), (6, "-1"), (6, "1e308"), (6, "nan"), (6, "inf"), (9, "301"),
                                  (9, "-0.5"), (15, "100.5e9"), (6, "4.5")]):
        bad("value_out_of_range_%d" % i, [with_field(col, v)], 2)
    for i, (col, v) in enumerate([(6, "five"), (6, "5kg"), (9, "0x10"), (6, " "), (10, "maybe"),
                                  (2, "achilles"), (5, "stage9")]):
        bad("text_in_typed_column_%d" % i, [with_field(col, v)], 2)
    bad("per_patient_changes", [row, with_field(2, "insertional", row2)], 3)
    # Quotes and row shapes.
    bad("unterminated_quote_last", [row + '"never closed'], 2)
    bad("unterminated_quote_middle", [row, with_field(16, '"open', row2), row.replace("03-03", "03-05")], 3)
    log("quote_inside_unquoted", [with_field(16, 'say "hi"')], "any-data")  # lenient or strict
    bad("short_row", ["P001,2025-03-03,midportion"], 2)
    bad("long_row", [row + ",extra,extra"], 2)
    bad("columns_10000", None, 1, raw=header + "".join(",c%d" % i for i in range(10000 - ncols)) + "\n"
        + row + "," * (10000 - ncols) + "\n")
    bad("fields_10000_in_row", [row + "," * 10000], 2)
    bad("note_4mb", [row + '"' + "the tendon was sore, " * 200000 + '"'], 2)
    bad("line_2mb_unquoted", [row + "x" * (2 * 1024 * 1024)], 2)
    bad("id_over_limit", [with_field(0, "P" * 300)], 2)
    # NUL and invalid UTF-8.
    bad("nul_in_note", None, 2, raw=(header + "\n" + row + "a\x00b\n").encode())
    bad("nul_in_header", None, 1, raw=(header.replace("notes", "no\x00tes") + "\n" + row + "\n").encode())
    bad("invalid_utf8_note", None, 2, raw=(header + "\n").encode() + row.encode() + b"caf\xe9\n")
    # Valid, if unusual.
    good("bom_crlf_multiline_notes", raw=b"\xef\xbb\xbf" + (header + "\r\n" + row
         + '"first line\r\nsecond line, with a comma and ""quotes"""\r\n' + row2 + "\r\n").encode())
    good("crlf", raw=(header + "\r\n" + row + "\r\n" + row2 + "\r\n").encode())
    good("no_final_newline", raw=header + "\n" + row + "\n" + row2)
    good("note_900k", [row + '"' + "sore " * 180000 + '"'])
    good("utf8_note", [row + "caf\u00e9 \u2014 no pop \U0001F600"])
    good("many_patients", ["P%05d%s" % (i, row[4:]) for i in range(2000)])
    # Rows per patient: 100 000 are read, one more is a located error.
    import datetime
    day0 = datetime.date(1800, 1, 1)
    many = ["P001,%s,midportion,running,,isometric,5,5,,0,no,no,,,,," % (day0 + datetime.timedelta(days=i)).isoformat()
            for i in range(100001)]
    good("rows_100000", many[:100000])
    bad("rows_100001", many, 100002)
    # Catastrophic regexes against long notes end as unknown (PCRE2's match
    # limit), not a hang: 30 days of such notes, each tried by three
    # patterns, within the time limit.
    s.write("cat.rules", 'protocol t version "1"\nlog {\n  date  date required\n  notes text default ""\n}\n'
            'stage a { }\nr1: hold when notes ~ /(a+)+$/ because "x"\n'
            'r2: hold when any(notes ~ /(a|aa)+$/, last 30 days) because "x"\n'
            'r3: hold when any(notes ~ /(\\w+\\s?)*$/, last 30 days) because "x"\n')
    s.write("l_catastrophic.csv", "date,notes\n" + "".join(
        "2025-01-%02d,%s\n" % (d, "a" * (5000 * d) + "!") for d in range(1, 31)))

    def unknown_r1(r):
        rec = json.loads(r["out"].decode().splitlines()[-1])
        res = {t.get("name"): t.get("result") for t in rec.get("trace", [])}
        return [] if all(res.get(k) == "unknown" for k in ("r1", "r2", "r3")) else \
            ["catastrophic regexes should give unknown, got %s" % res]
    s.case("hostile/log/catastrophic_regex", ["eval", "cat.rules", "l_catastrophic.csv", "--format", "json"],
           "ok", check=unknown_r1)
    # Truncated and mutated logs, through every view.
    data = s.read("examples/achilles_midportion.csv")
    rng = random.Random("%d-log-trunc" % SEED)
    for k in range(10):
        f = s.write("logs/trunc_%02d.csv" % k, data[:rng.randrange(len(data))])
        s.case("hostile/log/truncated_%02d" % k, ["eval", R, f, "--format", "json"], "any-data")
    rng = random.Random("%d-log-mut" % SEED)
    for k in range(30):
        f = s.write("logs/mut_%02d.csv" % k, mutate(data, rng))
        s.case("hostile/log/mutated_%02d" % k, ["eval", R, f, "--format", ("json", "text", "csv")[k % 3]],
               "any-data")


# ---- regressions (tests/hostile/MANIFEST) ------------------------------------

def regression_cases(s):
    hostile = os.path.join(s.root, "tests", "hostile")
    manifest = os.path.join(hostile, "MANIFEST")
    listed = set()
    with open(manifest, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            name = words[0]
            listed.add(name)
            if words[1] == "check":
                args, rest = ["check", os.path.join("tests", "hostile", name)], words[2:]
            elif words[1] == "eval":
                args, rest = ["eval", words[2], os.path.join("tests", "hostile", name), "--format", "json"], words[3:]
            else:
                s.record("hostile/regress/MANIFEST:%d" % n, ["unknown HOW '%s'" % words[1]])
                continue
            expect = rest[0]
            line_no = int(rest[1]) if len(rest) > 1 else None
            s.case("hostile/regress/" + name, args, expect, label=args[-1] if words[1] == "check" else args[2],
                   line=line_no, cwd=s.root)
    inputs = {os.path.basename(p) for p in glob.glob(os.path.join(hostile, "*"))} - {"MANIFEST"}
    helpers = {n for n in inputs if n not in listed}
    # Files only used by others (rule files named in an eval line) are fine.
    used = set()
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            used.update(os.path.basename(w) for w in line.split("#", 1)[0].split())
    orphans = sorted(helpers - used)
    s.record("hostile/regress/every_file_listed", ["not in MANIFEST: %s" % ", ".join(orphans)] if orphans else [])


# ---- allocation failure ----------------------------------------------------

def oom_sweep(s):
    """TENDO_FAIL_ALLOC=N for N = 1, 2, ... until the eval stops reaching
    the failure (20 runs in a row identical to the normal run): each failed
    run must end in a clean non-zero exit with a message on stderr."""
    name = "hostile/oom/eval_achilles_json"
    if not s.res.wanted(name):
        return
    exe = dict(s.variants).get("asan") or dict(s.variants)["release"]
    args = ["eval", "rules/achilles.rules", "examples/achilles_midportion.csv", "--format", "json"]
    ref = s.exec(exe, args, s.root)
    if ref["rc"] != 0 or s.health(ref):
        s.record(name, ["the normal run fails: exit %s\n%s" % (ref["rc"], ref["err"][-1500:])])
        return
    problems, n, streak, failed_cleanly, batch = [], 1, 0, 0, max(1, JOBS) * 8
    limit = 100000
    with ThreadPoolExecutor(max_workers=max(1, JOBS)) as pool:
        while streak < 20 and n < limit and len(problems) < 20:
            ns = list(range(n, n + batch))
            runs = list(pool.map(lambda k: s.exec(exe, args, s.root, env={"TENDO_FAIL_ALLOC": str(k)}), ns))
            for k, r in zip(ns, runs):
                p = s.health(r)
                if not p and r["rc"] == 0:
                    if r["out"] != ref["out"]:
                        p = ["exit 0 but the output differs from the normal run (a silent failure)"]
                    else:
                        streak += 1
                        continue
                elif not p and not r["err"].strip():
                    p = ["exit %d without a message on stderr" % r["rc"]]
                    if k in KNOWN_OOM:
                        print("XFAIL %s N=%d: %s (%s)" % (name, k, p[0], KNOWN_OOM[k]), flush=True)
                        s.xfail.append("%s N=%d" % (name, k))
                        p = []
                streak = 0
                if p:
                    problems.append("N=%d: %s: %s" % (k, "; ".join(p), r["err"].strip()[-300:]))
                else:
                    failed_cleanly += 1
            n += batch
    if streak < 20 and not problems:
        problems.append("still failing at N=%d" % n)
    print("hostile: allocation failure sweep: N=1..%d, %d runs failed cleanly" % (n - 1, failed_cleanly), flush=True)
    s.record(name, problems)


# ---- fuzzing material --------------------------------------------------------

def dictionary_case(s):
    """fuzz/tendo.dict lists every keyword of src/keywords.c."""
    kws = re.findall(r'\{ "([^"]+)", TOK_', s.read("src/keywords.c").decode())
    dic = s.read("fuzz/tendo.dict").decode()
    missing = [k for k in kws if '"%s"' % k not in dic]
    s.record("hostile/fuzz/dictionary_has_every_keyword",
             ["missing from fuzz/tendo.dict: %s" % ", ".join(missing)] if missing or not kws else [])


def fuzz_replay(s):
    """When the libFuzzer targets are built (make fuzz-build), replay the
    committed crash inputs (fuzz/corpus/TARGET/*) through them."""
    for target in ("fuzz_rules", "fuzz_log", "fuzz_notes", "fuzz_batch", "fuzz_reader"):
        exe = os.path.join(s.build, "fuzz", target)
        files = sorted(glob.glob(os.path.join(s.root, "fuzz", "corpus", target, "*")))
        name = "hostile/fuzz/replay_" + target
        if not os.path.exists(exe) or not files or not s.res.wanted(name):
            continue
        r = s.exec(exe, ["-runs=1"] + files, s.root, timeout=120)
        p = s.health(r) or ([] if r["rc"] == 0 else ["exit %d\n%s" % (r["rc"], r["err"][-1500:])])
        s.record(name, p)


def run(build, res, helpers):
    tmp = tempfile.mkdtemp(prefix="tendo-hostile-")
    try:
        s = Suite(build, res, helpers, tmp)
        dictionary_case(s)
        rules_cases(s)
        log_cases(s)
        regression_cases(s)
        s.run_jobs()
        oom_sweep(s)
        fuzz_replay(s)
        if s.xfail:
            print("hostile: %d known failures (reported, see KNOWN in tests/suite_hostile.py)" % len(s.xfail),
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
