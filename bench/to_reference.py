#!/usr/bin/env python3
"""tendo batch/eval CSV -> the reference task's output format (TASK.md):
patient_id,decision,next_stage,modifier.  Usage: to_reference.py IN OUT"""
import csv
import sys

with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as out:
    out.write("patient_id,decision,next_stage,modifier\n")
    for r in csv.DictReader(f):
        mod = "floor_only" if "floor_only" in r["flags"].split(";") else ""
        out.write("%s,%s,%s,%s\n" % (r["patient"], r["decision"], r["next_stage"], mod))
