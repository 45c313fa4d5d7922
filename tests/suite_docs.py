"""The documentation against the program: what README.md shows as output is
what tendo prints, and every option `tendo --help` lists is in the man page
and the README synopsis.  A doc that drifts from the program misleads the
clinician who copies from it, so drift fails the suite."""
import os
import re


def _readme_example(readme):
    """The text block of the worked example: the one that starts `Patient`."""
    m = re.search(r"```\n(Patient .*?)```", readme, re.S)
    return m.group(1) if m else None


def run(build, res, helpers):
    root = helpers["ROOT"]
    exe = os.path.join(build, "tendo")
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(root, "docs", "tendo.1"), encoding="utf-8") as f:
        man = f.read()

    name = "docs: README worked example is tendo's output"
    if res.wanted(name):
        want = _readme_example(readme)
        rc, out, err = helpers["run"]([exe, "eval", "rules/achilles.rules", "examples/achilles_midportion.csv"])
        got = out.decode("utf-8", "replace")
        if want is None:
            res.fail(name, "README.md has no ``` block starting with 'Patient'")
        elif rc != 0 or got.strip() != want.strip():
            res.fail(name, "exit %d; README shows:\n%s\ntendo prints:\n%s" % (rc, want, got))
        else:
            res.ok(name)

    name = "docs: every --help option is in the man page and the README"
    if res.wanted(name):
        rc, out, err = helpers["run"]([exe, "--help"])
        options = sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+|-o)\b", out.decode())))
        missing = []
        for opt in options:
            # groff writes a dash as \- (or \-\-), the README as it is.
            if opt.replace("-", "\\-") not in man and opt not in man:
                missing.append("%s: not in docs/tendo.1" % opt)
            if opt not in readme:
                missing.append("%s: not in README.md" % opt)
        if rc != 0 or len(options) < 6:
            res.fail(name, "tendo --help: exit %d, options found: %s" % (rc, options))
        elif missing:
            res.fail(name, "\n".join(missing))
        else:
            res.ok(name)
