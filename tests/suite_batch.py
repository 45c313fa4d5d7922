"""Batch evaluation (`tendo batch`): no lost records, identical output for
every --jobs, stdin, atomic -o, and bench/reference.rules against the
reference implementation on shared/bench/edge.csv.  Loaded by tests/run.py."""
import os
import shutil
import random
import stat
import subprocess
import sys
import tempfile
import threading

MINI = "tests/golden/mini.rules"
HEADER = "patient_id,date,presentation,stage,morning_pain,pain_during,swelling,notes\n"


def patient_rows(pid, days, rnd, start=(2024, 1, 1)):
    import datetime
    d0 = datetime.date(*start)
    rows = []
    for i in range(days):
        pd = "" if i == days - 1 else str(rnd.randint(0, 7))
        note = rnd.choice(["", "", "", "sore, but fine", "\"quoted \"\"word\"\", ok\"", "felt a pop"])
        if note and "," in note and not note.startswith('"'):
            note = '"%s"' % note
        rows.append("%s,%s,%s,%s,%d,%s,%s,%s\n" % (
            pid, (d0 + datetime.timedelta(days=i)).isoformat(), rnd.choice(["midportion", "insertional"]) if i == 0 else "@P",
            rnd.choice(["isometric", "raises"]) if i < days // 2 else "raises", rnd.randint(0, 6), pd,
            rnd.choice(["no", "no", "yes"]), note))
    pres = rows[0].split(",")[2]
    return [r.replace("@P", pres) for r in rows]


def with_date(row, date):
    """The cohort row `row` with its date field replaced."""
    pid, _, rest = row.split(",", 2)
    return "%s,%s,%s" % (pid, date, rest)


def cohort(n, days, seed):
    rnd = random.Random(seed)
    out = [HEADER]
    for k in range(n):
        out += patient_rows("P%05d" % k, days, rnd)
    return "".join(out)


def run(build, res, h):
    run_cmd, binaries, ROOT = h["run"], h["binaries"], h["ROOT"]

    def case(name, ok, detail=""):
        if ok:
            res.ok(name)
        else:
            res.fail(name, detail)

    for variant, exe in binaries(build):
        tag = "batch [%s]" % variant
        with tempfile.TemporaryDirectory() as d:
            # A cohort large enough to span several 512 KiB blocks.
            big = os.path.join(d, "big.csv")
            with open(big, "w") as f:
                f.write(cohort(3000, 40, 7))
            outs = {}
            for j in (1, 2, 3):
                rc, out, err = run_cmd([exe, "batch", MINI, big, "--jobs", str(j)])
                outs[j] = out
                case("%s: multi-block file, --jobs %d exits 0" % (tag, j), rc == 0, err.decode()[-2000:])
            case("%s: --jobs 1, 2 and 3 write byte-identical output" % tag,
                 outs[1] == outs[2] == outs[3] and outs[1].count(b"\n") == 3001,
                 "lines: %s" % [o.count(b"\n") for o in outs.values()])
            rc, eout, err = run_cmd([exe, "eval", "--format", "csv", MINI, big])
            case("%s: batch records equal eval records" % tag, rc == 0 and eout == outs[1])

            # Standard input.
            rc, out, err = run_cmd([exe, "batch", MINI, "-", "--jobs", "2"], stdin=open(big, "rb").read())
            case("%s: stdin gives the same records" % tag, rc == 0 and out == outs[1], err.decode()[-1000:])

            # A folder with good files, a corrupt file and a bad patient inside a good file.
            folder = os.path.join(d, "cohort")
            os.makedirs(os.path.join(folder, "sub"))
            with open(os.path.join(folder, "a.csv"), "w") as f:
                f.write(cohort(5, 10, 1))
            with open(os.path.join(folder, "sub", "c.csv"), "w") as f:
                text = cohort(4, 10, 3).replace("P00002,2024-01-03", "P00002,2024-13-03")
                f.write(text)
            with open(os.path.join(folder, "b.csv"), "wb") as f:
                f.write(b"\x00\x01garbage,not,a,log\n")
            with open(os.path.join(folder, "notes.txt"), "w") as f:
                f.write("not a log: ignored\n")
            # A *.csv whose link leads nowhere is a log that cannot be
            # read, not a name to pass over in silence.
            os.symlink(os.path.join(d, "nowhere.csv"), os.path.join(folder, "d.csv"))
            rc, out, err = run_cmd([exe, "batch", MINI, folder, "--jobs", "2"])
            e = err.decode()
            lines = out.decode().splitlines()
            case("%s: folder with corrupt files exits 4" % tag, rc == 4, "exit %d\n%s" % (rc, e))
            case("%s: every good patient is written, in sorted path order" % tag,
                 [l.split(",")[0] for l in lines[1:]] == ["P00000", "P00001", "P00002", "P00003", "P00004",
                                                           "P00000", "P00001", "P00003"], out.decode())
            case("%s: the corrupt file is named" % tag, "b.csv" in e and "error" in e, e)
            case("%s: the bad patient is named with file and line" % tag,
                 "sub/c.csv:24: error: column 'date': '2024-13-03' is not a valid date" in e, e)
            case("%s: a dangling link named *.csv is reported, not passed over" % tag,
                 "cohort/d.csv: error: cannot open log file: No such file or directory" in e, e)
            case("%s: the summary counts skipped patients" % tag, "1 skipped, 2 of 4 files unreadable" in e, e)

            # A folder of files whose ids repeat across files (not an error)
            # and within every `again`-th file (an error: P00000 comes back
            # after the others).  The writer resets the id set at each
            # file's first block while other files may still be evaluated.
            # Every --jobs must say the same.
            def folder_case(name, nfiles, patients, days, again, what):
                folder = os.path.join(d, name)
                os.makedirs(folder)
                total = 0
                for i in range(nfiles):
                    text = cohort(patients + i % 3, days, 100 * len(name) + i)
                    total += patients + i % 3
                    if i % again == again // 2:
                        text += with_date(text.splitlines(True)[1], "2025-01-01")
                    with open(os.path.join(folder, "f%02d.csv" % i), "w") as f:
                        f.write(text)
                runs = []
                for j in (1, 2, 3):
                    rc, out, err = run_cmd([exe, "batch", MINI, folder, "--jobs", str(j)])
                    runs.append((rc, out, err.splitlines()[:-1]))  # the summary's last line has a time
                rc, out, err = runs[0]
                returns = len([i for i in range(nfiles) if i % again == again // 2])
                case("%s: %s: --jobs 1, 2 and 3 write the same records and messages" % (tag, what),
                     all(r == runs[0] for r in runs[1:]) and rc == 4 and out.count(b"\n") == 1 + total and
                     sum(b"are not together: it already appeared at line 2" in l for l in err) == returns,
                     "exit %d, %d records\n%s" % (rc, out.count(b"\n"), b"\n".join(err).decode()[-1500:]))

            # Small files are run by the calling thread; files of more than a
            # quarter of a block (96 KB) are handed to idle workers.
            folder_case("many", 60, 2, 6, 7, "60 small files")
            folder_case("medium", 12, 28, 60, 4, "12 files of 96 KB")

            # Rows of a patient that come back after another patient, across blocks.
            split = os.path.join(d, "split.csv")
            body = cohort(3000, 40, 9)
            first = "".join(l for l in body.splitlines(True)[1:41])  # P00000's rows
            with open(split, "w") as f:
                f.write(body + first.replace("2024-", "2025-"))
            rc, out, err = run_cmd([exe, "batch", MINI, split, "--jobs", "2"])
            case("%s: a patient whose rows are not together is reported and skipped" % tag,
                 rc == 4 and b"rows for patient 'P00000' are not together: it already appeared at line 2" in err
                 and out.count(b"\n") == 3001, err.decode()[-1000:])

            # The same, with patients after the returning one: the writer
            # skips its record in the middle of a block's output and writes
            # the records around it.
            mid = os.path.join(d, "mid.csv")
            body = cohort(3000, 40, 9)
            rows = body.splitlines(True)
            tail = cohort(3, 40, 10).splitlines(True)[1:]
            tail = [r.replace("P0000", "Q0000", 1) for r in tail]
            with open(mid, "w") as f:
                f.write(body + first.replace("2024-", "2025-") + "".join(tail))
            rc, out, err = run_cmd([exe, "batch", MINI, mid, "--jobs", "2"])
            ids = [l.split(b",")[0] for l in out.splitlines()[1:]]
            case("%s: a returning patient in the middle of a block is skipped, the patients after it written" % tag,
                 rc == 4 and len(ids) == 3003 and ids.count(b"P00000") == 1 and ids[-3:] == [b"Q00000", b"Q00001", b"Q00002"],
                 "exit %d, %d records, last %r\n%s" % (rc, len(ids), ids[-4:], err.decode()[-600:]))

            # A patient skipped for a bad row that comes back blocks later
            # is not decided on the rows after its return (fuzz_batch found
            # that batch did, while eval refused it).
            back = os.path.join(d, "back.csv")
            lines = cohort(3000, 40, 9).splitlines(True)
            again = [l.replace("2024-", "2025-", 1) for l in lines[1:41]]  # P00000's rows, a year on
            lines[3] = with_date(lines[3], "2024-02-30")
            with open(back, "w") as f:
                f.writelines(lines + again)
            rc_e, out_e, err_e = run_cmd([exe, "eval", "--format", "csv", MINI, back])
            rc, out, err = run_cmd([exe, "batch", MINI, back, "--jobs", "2"])
            case("%s: a bad patient that comes back blocks later is skipped again, as eval does" % tag,
                 rc == 4 and rc_e == 3 and out == out_e and out.count(b"\n") == 3000 and
                 b"back.csv:120002: error: rows for patient 'P00000' are not together: it already appeared at line 2"
                 in err, "batch exit %d, eval exit %d, %d and %d records\n%s" %
                 (rc, rc_e, out.count(b"\n"), out_e.count(b"\n"), err.decode()[-800:]))

            # A row without a patient id belongs to the patient before it, as
            # eval reads it, wherever a block is cut (fuzz_batch found cuts
            # placed before such a row).  Every other patient ends with one
            # here; mini.rules wants an id on every row, so eval skips those
            # patients, and batch must skip the same ones.
            idless = os.path.join(d, "idless.csv")
            lines = cohort(3000, 40, 13).splitlines(True)
            for i in range(40, len(lines), 80):
                lines[i] = lines[i][lines[i].index(","):]
            with open(idless, "w") as f:
                f.writelines(lines)
            rc_e, out_e, _ = run_cmd([exe, "eval", "--format", "csv", MINI, idless])
            for j in (1, 2):
                rc, out, err = run_cmd([exe, "batch", MINI, idless, "--jobs", str(j)])
                case("%s: --jobs %d keeps rows without an id with the patient before them" % (tag, j),
                     (rc, rc_e) == (4, 3) and out == out_e and out.count(b"\n") == 1501,
                     "batch exit %d, eval exit %d, %d and %d records\n%s" %
                     (rc, rc_e, out.count(b"\n"), out_e.count(b"\n"), err.decode()[-800:]))

            # Line numbers stay file lines across blocks: multi-line quoted
            # notes early on, bad dates deep in the file, several blocks apart.
            deep = os.path.join(d, "deep.csv")
            lines = cohort(3000, 40, 11).splitlines(True)
            for i in range(5, 400, 37):
                lines[i] = ",".join(lines[i].split(",", 7)[:7]) + ',"sore,\nthen\nfine"\n'
            want = []
            for i in (30001, 90017, 119990):
                lines[i] = with_date(lines[i], "2024-13-40")
                want.append("deep.csv:%d: error: column 'date': '2024-13-40'" %
                            (sum(l.count("\n") for l in lines[:i]) + 1))
            with open(deep, "w") as f:
                f.writelines(lines)
            rc_e, _, err_e = run_cmd([exe, "eval", "--format", "csv", MINI, deep])
            for j in (1, 2):
                rc, out, err = run_cmd([exe, "batch", MINI, deep, "--jobs", str(j)])
                got = [l for l in err.decode().splitlines() if "2024-13-40" in l]
                case("%s: --jobs %d names each bad row by its file line, blocks apart" % (tag, j),
                     rc == 4 and len(got) == len(want) and all(w in g for w, g in zip(want, got)) and
                     [l for l in err.decode().splitlines() if ": error: " in l] ==
                     [l for l in err_e.decode().splitlines() if ": error: " in l],
                     "want %s\ngot %s\neval said:\n%s" % (want, got, err_e.decode()[-1500:]))

            # -o: atomic, and no file at all when the run cannot finish.
            target = os.path.join(d, "out.csv")
            rc, out, err = run_cmd([exe, "batch", MINI, big, "-o", target])
            case("%s: -o writes the file" % tag, rc == 0 and open(target, "rb").read() == outs[1])
            left = [x for x in os.listdir(d) if x.startswith("out.csv.tmp")]
            case("%s: -o leaves no temporary file" % tag, not left, str(left))

            # -o onto something that is not a regular file writes into it:
            # renaming a temporary file over /dev/null once replaced the
            # device with a regular file.  A FIFO stands in for the device.
            fifo = os.path.join(d, "pipe")
            os.mkfifo(fifo)
            got = []
            reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
            reader.start()
            rc, out, err = run_cmd([exe, "batch", MINI, big, "-o", fifo])
            reader.join(60)
            case("%s: -o onto a FIFO writes into it and leaves it a FIFO" % tag,
                 rc == 0 and got == [outs[1]] and stat.S_ISFIFO(os.lstat(fifo).st_mode) and
                 not [x for x in os.listdir(d) if x.startswith("pipe.tmp")],
                 "exit %d, %s\n%s" % (rc, [len(g) for g in got], err.decode()[-500:]))
            # A symbolic link is followed: the link stays, its target is
            # replaced; an existing file keeps its mode, a new one gets the
            # umask's.
            real = os.path.join(d, "real.csv")
            with open(real, "w") as f:
                f.write("old\n")
            os.chmod(real, 0o640)
            link = os.path.join(d, "link.csv")
            os.symlink(real, link)
            rc, out, err = run_cmd([exe, "batch", MINI, big, "-o", link])
            case("%s: -o through a symbolic link replaces its target and keeps the link and the mode" % tag,
                 rc == 0 and os.path.islink(link) and open(real, "rb").read() == outs[1] and
                 stat.S_IMODE(os.stat(real).st_mode) == 0o640, err.decode()[-500:])
            mask = os.umask(0o022)
            os.umask(mask)
            fresh = os.path.join(d, "fresh.csv")
            rc, out, err = run_cmd([exe, "batch", MINI, big, "-o", fresh])
            case("%s: -o creates a new file with the umask's mode" % tag,
                 rc == 0 and stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~mask,
                 "mode %o, umask %o" % (stat.S_IMODE(os.stat(fresh).st_mode) if os.path.exists(fresh) else 0, mask))
            target2 = os.path.join(d, "never.csv")
            rc, out, err = run_cmd([exe, "batch", "tests/golden/three_errors.rules", big, "-o", target2])
            case("%s: rule errors exit 1 and create no output file" % tag,
                 rc == 1 and not os.path.exists(target2) and
                 not [x for x in os.listdir(d) if x.startswith("never.csv")], str(os.listdir(d)))
            full = "/dev/full"
            if os.path.exists(full):
                rc, out, err = run_cmd(["sh", "-c", "'%s' batch %s %s > /dev/full" % (exe, MINI, big)])
                case("%s: a write error exits 5" % tag, rc == 5 and b"cannot write" in err, err.decode())

            # Usage errors.
            rc, out, err = run_cmd([exe, "batch", MINI, big, "--jobs", "0"])
            case("%s: --jobs 0 is a usage error" % tag, rc == 2 and b"--jobs" in err, err.decode())
            rc, out, err = run_cmd([exe, "batch", MINI])
            case("%s: batch without a log is a usage error" % tag, rc == 2, err.decode())

        # The benchmark's rule file equals the reference implementation.
        edge = os.path.join(os.path.dirname(ROOT), "shared", "bench", "edge.csv")
        expected = os.path.join(os.path.dirname(ROOT), "shared", "bench", "edge.expected.csv")
        if os.path.exists(edge):
            rc, out, err = run_cmd([exe, "batch", "bench/reference.rules", edge, "--jobs", "2"])
            got = ["patient_id,decision,next_stage,modifier"]
            for line in out.decode().splitlines()[1:]:
                f = line.split(",")
                got.append("%s,%s,%s,%s" % (f[0], f[3], f[4], "floor_only" if "floor_only" in f[8].split(";") else ""))
            want = open(expected).read().splitlines()
            diff = [g for g, w in zip(got, want) if g != w]
            case("%s: bench/reference.rules matches reference.py on edge.csv" % tag,
                 rc == 0 and got == want, "exit %d, differing lines: %s" % (rc, diff[:5]))

        # batch and eval must agree on what every log holds, good or bad: the
        # same records, and a skip in one (eval 3) is a skip in the other
        # (batch 4).  Logs from the hostile, golden and example folders.
        import glob
        logs = sorted(glob.glob(os.path.join(ROOT, "tests", "hostile", "*.csv")) +
                      glob.glob(os.path.join(ROOT, "tests", "golden", "*.csv")) +
                      glob.glob(os.path.join(ROOT, "examples", "*.csv")))
        # And a log of many patients, most of them good, some with one bad
        # row each, with a quoted multi-line note and a CRLF row among them.
        rows = open(os.path.join(ROOT, "examples", "achilles_midportion.csv")).read().splitlines()
        header, body = rows[0], rows[1:]
        faults = [lambda r: r,
                  lambda r: r.replace(",2025-03-", ",2025-13-", 1),       # impossible date
                  lambda r: r.rsplit(",", 2)[0],                           # short row
                  lambda r: r.replace(",midportion,", ",middle,", 1),      # unknown value
                  lambda r: r + '"sore,\nthen ""fine"""',             # quoted note, good
                  lambda r: r + "\r"]                                      # CRLF, good
        tmp = tempfile.mkdtemp()
        mixed = os.path.join(tmp, "mixed.csv")
        with open(mixed, "w", newline="") as f:
            f.write(header + "\n")
            for n, fault in enumerate(faults * 3):
                for i, r in enumerate(body):
                    r = r.replace("P001", "P%03d" % (n + 1), 1)
                    f.write((fault(r) if i == 7 else r) + "\n")
        logs.append(mixed)
        differ = []
        for log in logs:
            # examples/alfredson.csv goes with rules/alfredson.rules, and so on.
            own = os.path.join("rules", os.path.basename(log).split("_")[0].split(".")[0] + ".rules")
            rules = own if os.path.exists(os.path.join(ROOT, own)) else "rules/achilles.rules"
            rc_e, out_e, _ = run_cmd([exe, "eval", rules, log, "--format", "csv"])
            rc_b, out_b, _ = run_cmd([exe, "batch", rules, log, "--jobs", "2"])
            rec_e = [l for l in out_e.decode("utf-8", "replace").splitlines()[1:]]
            rec_b = [l for l in out_b.decode("utf-8", "replace").splitlines()[1:]]
            codes_agree = (rc_e, rc_b) in ((0, 0), (3, 4))
            if log == mixed and (len(rec_b) != 9 or rc_b != 4):
                differ.append("mixed.csv: want the 9 good patients of 18 and exit 4, got %d records, exit %d"
                              % (len(rec_b), rc_b))
            if rec_e != rec_b or not codes_agree:
                differ.append("%s: eval exit %d, %d records; batch exit %d, %d records"
                              % (os.path.relpath(log, ROOT), rc_e, len(rec_e), rc_b, len(rec_b)))
        shutil.rmtree(tmp)
        case("%s: batch and eval agree on %d logs, good and bad" % (tag, len(logs)),
             len(logs) > 10 and not differ, "\n".join(differ))
