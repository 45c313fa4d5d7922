#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, generated from the repository's own
files so that they follow the language and the tests as they change.

Usage: fuzz/seeds.py OUT_DIR   (make fuzz uses build/fuzz/seeds)
Writes OUT_DIR/fuzz_rules, OUT_DIR/fuzz_log, OUT_DIR/fuzz_notes,
OUT_DIR/fuzz_batch and OUT_DIR/fuzz_reader; each file
is named by the hash of its content, so a rerun is idempotent.
"""
import glob
import hashlib
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks(path):
    """Sections of a tests/*.test case file: yields {section: text}."""
    cur = None
    section = None
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            if line.startswith("=== "):
                if cur:
                    yield cur
                cur, section = {}, None
            elif line.startswith("--- ") and cur is not None:
                section = line[4:].strip()
                cur[section] = ""
            elif cur is not None and section is not None:
                cur[section] += line
    if cur:
        yield cur


def read(path):
    with open(path, "rb") as f:
        return f.read()


def files(*patterns):
    out = []
    for p in patterns:
        out.extend(sorted(glob.glob(os.path.join(ROOT, p), recursive=True)))
    return out


def rules_seeds():
    for p in files("rules/*.rules", "bench/*.rules", "fuzz/*.rules", "tests/cases/*.rules"):
        yield read(p)
    for p in files("tests/cases/*.test", "tests/eval/*.test"):
        for b in blocks(p):
            for k, v in b.items():
                if k == "rules" or k.startswith("file "):
                    yield v.encode("utf-8")


def notes_from_csv(data):
    """The last field of each row, roughly: good enough for seeds."""
    out = []
    for line in data.decode("utf-8", "replace").splitlines()[1:]:
        field = line.rsplit(",", 1)[-1].strip('"')
        if field:
            out.append(field.encode("utf-8"))
    return out


def log_seeds():
    for p in files("examples/*.csv", "tests/golden/*.csv", "tests/golden/*.in",
                   "tests/scenarios/**/*.csv", "tests/hostile/*.csv"):
        yield read(p)
    # Evaluator cases' logs use other schemas, but their CSV shapes (quotes,
    # blank cells, dates) are still useful starting points.
    for p in files("tests/eval/*.test"):
        for b in blocks(p):
            if "log" in b:
                yield b["log"].encode("utf-8")


def as_csv(records):
    import csv
    import io
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def batch_seeds():
    """Logs of several short patients, which is what batch cuts between:
    the example logs (one patient each, or cut to one by the 4 KiB input
    limit) re-split into patients of 2 to 5 records, quoted multi-line notes
    kept whole, and variants with a patient that comes back and a bad row;
    then the log seeds."""
    import csv
    import io
    for p in files("examples/*.csv"):
        recs = list(csv.reader(io.StringIO(read(p).decode("utf-8"), newline="")))
        header, body = recs[0], recs[1:]
        for per in (2, 3, 5):
            rows = []
            for i, r in enumerate(body[:40]):
                rows.append(["Q%02d" % (i // per)] + r[1:])
            for variant in ("plain", "returns", "bad"):
                vr = [list(r) for r in rows]
                if variant == "returns" and len(vr) > 2 * per:
                    vr.append(list(vr[0]))
                if variant == "bad" and len(vr) > per:
                    vr[per][1] = "2025-02-30"
                while len(as_csv([header] + vr)) > 4000:  # libFuzzer's -max_len=4096
                    vr = vr[:-per]
                yield as_csv([header] + vr)
    yield from log_seeds()


BENCH_HEADER = ["patient_id", "date", "presentation", "stage", "pain_during", "pain_24h",
                "stiffness", "swelling", "load_kg", "notes"]


def reader_seeds():
    """Logs for the schemas fuzz_reader reads under: the log seeds
    (achilles), the benchmark's shape (bench/reference.rules, notes the
    rest of the row) and fuzz/notes.rules' shape (no patient column)."""
    yield from log_seeds()
    stages = ["isometric", "bilateral", "single_leg", "hsr"]
    notes = ["", "", "sharp pain, then ok", "pop-up", "Stabbing"]
    rows = []
    for i in range(40):
        rows.append(["P%06d" % (1 + i // 9), "2024-%02d-%02d" % (1 + i // 28, 1 + i % 28),
                     ("midportion", "insertional")[i // 9 % 2], stages[i // 5 % 4],
                     str(i % 11), str(i * 7 % 11), str(i * 3 % 11), str(i % 2), str(i % 41), notes[i % 5]])
    yield as_csv([BENCH_HEADER] + rows)
    yield as_csv([BENCH_HEADER] + rows).replace(b"\n", b"\r\n")
    yield b"date,stage,pain,notes,comment\n" + b"".join(
        b"2025-03-%02d,isometric,%d,aaaa!,x\n" % (1 + i, i % 11) for i in range(20))


NOTES = [
    b"felt a pop in the back of my heel",
    b"no pop, no snap; calf warm after the walk",
    b"Calf is hot and red, swollen calf",
    b"fever and chills overnight\nfeverish",
    b"the the tendon tendon",
    b"(nested (brackets (here)))",
    b"<tag>",
    b"Stra\xc3\x9fe 42 \xc3\x85NGSTR\xc3\x96M \xc3\xb1",
    b"a" * 40 + b"b",
    b"word " * 30 + b"!",
    b"xxxy" * 8,
    b"walk-run intervals, Walk and run",
    b"\xff\xfe invalid utf-8 \xc3",
]


def notes_seeds():
    yield b"\x00".join(NOTES)
    for n in NOTES:
        yield n
    for p in files("examples/*.csv"):
        ns = notes_from_csv(read(p))
        if ns:
            yield b"\x00".join(ns[:16])


def write(out, name, gen):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    n = 0
    for data in gen():
        h = hashlib.sha1(data).hexdigest()
        with open(os.path.join(d, h), "wb") as f:
            f.write(data)
        n += 1
    return n


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    counts = [(t, write(out, t, g)) for t, g in
              (("fuzz_rules", rules_seeds), ("fuzz_log", log_seeds), ("fuzz_notes", notes_seeds),
               ("fuzz_batch", batch_seeds), ("fuzz_reader", reader_seeds))]
    print("fuzz: seeds: " + ", ".join("%s %d" % c for c in counts))


if __name__ == "__main__":
    main()
