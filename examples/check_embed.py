#!/usr/bin/env python3
"""Checks an embedding example against `tern embed` (a ctest of examples/CMakeLists.txt).

    check_embed.py TERN MODEL TEXT1 TEXT2 -- PROGRAM [ARG...]

PROGRAM (examples/embed.c, or python/tern.py --embed) is run with MODEL TEXT1 TEXT2
appended and must print the two embeddings as JSON arrays, one a line, then
"cosine similarity: S". Each value must equal what `tern embed -m MODEL`
prints for the same texts (the same 7 decimals), and S the cosine of those
vectors; the texts must differ enough that the cosine is not 1.
"""
import json
import math
import subprocess
import sys


def fail(msg):
    print(f"check_embed: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def main(argv):
    if len(argv) < 7 or argv[5] != "--":
        fail("usage: check_embed.py TERN MODEL TEXT1 TEXT2 -- PROGRAM [ARG...]")
    tern, model, t1, t2, program = argv[1], argv[2], argv[3], argv[4], argv[6:]
    want = json.loads(run([tern, "embed", "-m", model, "-p", f"{t1}\x1f{t2}", "--embd-separator", "\x1f",
                           "--embd-output-format", "json", "--no-stats"]))
    want = [d["embedding"] for d in want["data"]]
    lines = run(program + [model, t1, t2]).splitlines()
    if len(lines) != 3 or not lines[2].startswith("cosine similarity: "):
        fail(f"expected two arrays and a cosine line, got:\n" + "\n".join(lines))
    got = [json.loads(line) for line in lines[:2]]
    for i in range(2):
        if len(got[i]) != len(want[i]):
            fail(f"embedding {i}: {len(got[i])} values, tern embed gives {len(want[i])}")
        worst = max(abs(a - b) for a, b in zip(got[i], want[i]))
        if worst > 1.5e-7:  # the same float printed with 7 decimals: at most a last-digit difference
            fail(f"embedding {i} differs from tern embed's by up to {worst}")
    a, b = want
    cos = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    printed = float(lines[2].split(": ")[1])
    if abs(printed - cos) > 2e-6:
        fail(f"cosine similarity {printed}, expected {cos:.6f}")
    if cos > 0.9999:
        fail(f"cosine {cos}: the two texts should give different embeddings")
    print(f"check_embed: {len(a)} dims x 2 equal to tern embed's, cosine {printed}")


if __name__ == "__main__":
    main(sys.argv)
