"""A benchmark of this tree and the same benchmark of an earlier revision, taking turns.

    python benchmarks/before_after.py [--rounds N] REV SCRIPT [ARGS...]   # e.g. cd5a7c6 op_overhead.py

The revision is checked out into a temporary git worktree; each round runs ``benchmarks/SCRIPT``
of the revision, then of this tree, each in a fresh process with its own tree first on the path
(each tree's script measures its own code, as that code's users call it). The outputs are
printed as they come, round by round, for the record in benchmarks/README.md: a change in the
machine's load reaches both trees alike.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROUNDS = 3
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(tree, script, args):
    env = dict(os.environ, PYTHONPATH=tree)
    done = subprocess.run([sys.executable, os.path.join(tree, "benchmarks", script), *args],
                          cwd=tree, env=env, capture_output=True, text=True)
    return done.stdout + (done.stderr if done.returncode else "")


def main(argv):
    rounds = ROUNDS
    if argv[:1] == ["--rounds"]:
        rounds, argv = int(argv[1]), argv[2:]
    if len(argv) < 2:
        sys.exit(__doc__)
    rev, script, args = argv[0], argv[1], argv[2:]
    folder = tempfile.mkdtemp(prefix="before-")
    tree = os.path.join(folder, "tree")
    subprocess.run(["git", "-C", HERE, "worktree", "add", "--detach", "-q", tree, rev],
                   check=True)
    try:
        for r in range(1, rounds + 1):
            for name, path in (("before (%s)" % rev, tree), ("after (this tree)", HERE)):
                print("== round %d, %s" % (r, name), flush=True)
                print(run(path, script, args), flush=True)
    finally:
        subprocess.run(["git", "-C", HERE, "worktree", "remove", "--force", tree])
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
