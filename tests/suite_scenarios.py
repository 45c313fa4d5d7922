"""Clinical scenarios: the shipped protocols (rules/*.rules) against small
symptom logs, with hand-checked expectations.

Layout: tests/scenarios/<protocol>/*.test, where <protocol>.rules in rules/
is the rule file (a `--- rules-file PATH` section, relative to the
repository root, overrides it).  Each case is

    === title
    --- log                      the CSV symptom log, verbatim
    --- args                     optional: extra `tendo eval` arguments (--as-of ...)
    --- expect                   expectations for the first patient in the log
    --- expect P2                expectations for patient P2 (multi-patient logs)

Expectation lines are those of tests/eval (`key value`, `rule NAME RESULT`,
`status NAME STATUS`, `condition NAME N VALUE`, see tests/run.py
check_expectations), plus

    exercise N KEY VALUE         field KEY of the Nth exercise (from 1) of the
                                 next prescription; VALUE is compared with the
                                 field as text (a list is joined with ","),
                                 `-` means the field is absent
    exercises N                  the number of exercises prescribed

Every expect section must carry a `# why: ...` line: the clinical reason for
the expectation, worked out by hand from shared/design/protocol.md.  Every
case is run against every binary (release, ASan) in JSON and, as a smoke
test of the other views, in text with --trace and in CSV.
"""
import glob
import json
import os
import tempfile


def _field_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return ",".join(value)
    return json.dumps(value)


def _check_exercises(lines, rec):
    """The `exercise` and `exercises` lines; returns (errors, other lines)."""
    errors, rest = [], []
    pres = rec.get("prescription", [])
    for line in lines:
        words = line.strip().split(" ", 3)
        if words and words[0] == "exercises":
            if str(len(pres)) != words[1]:
                errors.append("exercises: got %d, want %s" % (len(pres), words[1]))
        elif words and words[0] == "exercise":
            if len(words) < 4:
                errors.append("malformed line: %s" % line.strip())
                continue
            i, key, want = int(words[1]), words[2], words[3]
            if i < 1 or i > len(pres):
                errors.append("exercise %d: only %d exercises prescribed" % (i, len(pres)))
                continue
            got = _field_text(pres[i - 1][key]) if key in pres[i - 1] else "-"
            if got != want:
                errors.append("exercise %d %s: got %s, want %s" % (i, key, got, want))
        else:
            rest.append(line)
    return errors, rest


def run(build, res, helpers):
    root = helpers["ROOT"]
    check_expectations = helpers["check_expectations"]
    for path in sorted(glob.glob(os.path.join(root, "tests", "scenarios", "*", "*.test"))):
        protocol = os.path.basename(os.path.dirname(path))
        for case in helpers["parse_blocks"](path):
            name = "scenario %s:%d %s" % (helpers["rel"](path), case["line"], case["title"])
            if not res.wanted(name):
                continue
            s = case["sections"]
            rules_rel = s.get("rules-file", "").strip() or "rules/%s.rules" % protocol
            rules = os.path.join(root, rules_rel)
            expects = {k[len("expect"):].strip(): v for k, v in s.items()
                       if k == "expect" or k.startswith("expect ")}
            problems = []
            if "log" not in s:
                problems.append("the case has no `--- log` section")
            if not expects:
                problems.append("the case has no `--- expect` section")
            for who, body in expects.items():
                if not any(l.strip().startswith("# why:") for l in body.splitlines()):
                    problems.append("expect %s: no `# why:` line giving the clinical reason" % (who or "(first patient)"))
            if problems:
                res.fail(name, "\n".join(problems))
                continue
            with tempfile.TemporaryDirectory() as d:
                log = os.path.join(d, "log.csv")
                with open(log, "w", encoding="utf-8", newline="") as f:
                    f.write(s["log"])
                args = s.get("args", "").split()
                for variant, exe in helpers["binaries"](build):
                    label = "%s [%s]" % (name, variant)
                    rc, out, err = helpers["run"]([exe, "eval", rules, log, "--format", "json"] + args)
                    errtext = err.decode("utf-8", "replace")
                    if rc != 0:
                        res.fail(label, "exit %d\n%s" % (rc, errtext))
                        continue
                    try:
                        recs = [json.loads(l) for l in out.decode("utf-8").splitlines() if l.strip()]
                    except ValueError as e:
                        res.fail(label, "bad JSON: %s" % e)
                        continue
                    if not recs:
                        res.fail(label, "no decision records\n%s" % errtext)
                        continue
                    by_patient = {r.get("patient"): r for r in recs}
                    errors = []
                    for who, body in expects.items():
                        rec = recs[0] if not who else by_patient.get(who)
                        if rec is None:
                            errors.append("no record for patient %s (have %s)" % (who, ", ".join(map(str, by_patient))))
                            continue
                        ex_errors, rest = _check_exercises(body.splitlines(), rec)
                        errs = ex_errors + check_expectations(rest, rec, name)
                        errors += ["%s%s" % ("[%s] " % who if who else "", e) for e in errs]
                    # The other views must render the same log without trouble.
                    for view in (["--format", "text", "--trace"], ["--format", "csv"]):
                        vrc, _, verr = helpers["run"]([exe, "eval", rules, log] + view + args)
                        if vrc != 0:
                            errors.append("%s: exit %d\n%s" % (" ".join(view), vrc, verr.decode("utf-8", "replace")))
                    if errors:
                        res.fail(label, "\n".join(errors))
                    else:
                        res.ok(name)
