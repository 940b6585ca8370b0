#!/usr/bin/env python3
"""The speed targets of the open issues, measured in one run, as ratios.

Every target is a ratio against a limit measured in the same minutes (shared
machines move by tens of percent from minute to minute):

  issue 13  quantized output matrices at >= 85 % of the read probe, 1 and 2
            threads (tern_bench output/TABLE/TYPE/.../N:1 rows, pct_bw)
  issue 13  generation at >= 85 % of the read roofline on every layout, prompt
            processing (pp512) at >= 75 % of the int8 peak, 2 threads and 1
            (tern bench --probes: pct_limit, and the same against the best
            probe of the run for its thread count, which decides)
  issue 12  8 sequences decoding together >= 3x one sequence on the F16-head
            file, >= 3.5x on the Q6_K-head file (tern bench --npl 1,2,4,8,16)
  issue 13  loading from a warm page cache in <= 1.0 s, peak RSS <= file + KV
            cache + 100 MB (tern run -c 512, its load: line; the child's maxrss)
  issue 13  with a busy loop on one core, -t 2 at least as fast as -t 1
  issue 16  the 0.6B embedding shape's 120-token passages at >= 75 % of the
            int8 peak (tern bench -p 120 --probes); tern embed of 16 of them
            in peak RSS <= file + KV of one batch + 100 MB

The models are made here, once, in --models (random weights of the real
shapes; about 5 GB and a few minutes): tern_make_demo_model for the I2_S
files, tools/reference/make_hf_checkpoint.py + tern convert for the TQ2_0 /
TQ1_0 files (run with llama.cpp's Q6_K output matrix, --output-type q6_k) and
the qwen3-0.6b embedding shape. --smoke runs every step on the bundled tiny
model instead, to check this script (tests/bench_targets_test.cpp).

Usage: bench/targets.py [--build build] [--models DIR] [--reps 2] [--smoke]
Prints each measurement as it comes, then a table: target, measured, met.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "models", "tern-tinystories-4m.gguf")


def log(msg):
    print(msg if len(msg) <= 400 else msg[:400] + " ...", file=sys.stderr, flush=True)


def run(cmd, env=None):
    log("$ " + " ".join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, **(env or {})))
    if r.returncode != 0:
        sys.exit(f"targets.py: {' '.join(cmd)} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    return r.stdout


def run_rss(cmd):
    """Runs cmd; returns (stdout + stderr, peak RSS in bytes of that process)."""
    log("$ " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"targets.py: {' '.join(cmd)} failed (exit {p.returncode}):\n{out[-2000:]}")
    return out, usage.ru_maxrss * 1024


def kv_bytes(b, model, tokens):
    """The f32 KV cache of `tokens` positions (tern's default cache type)."""
    info = json.loads(run([b["tern"], "info", "-m", model, "--json"]))["model"]
    hp = info["hyperparameters"]
    head_dim = hp.get("attention.key_length", hp["embedding_length"] // hp["attention.head_count"])
    kv_dim = hp.get("attention.head_count_kv", hp["attention.head_count"]) * head_dim
    return info["file_size"], 2 * hp["block_count"] * tokens * kv_dim * 4


def python_with_numpy():
    """The generator of checkpoints needs numpy (Debian: python3-numpy)."""
    for py in ("/usr/bin/python3", sys.executable):
        if os.path.exists(py) and subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode == 0:
            return py
    sys.exit("targets.py: no python3 with numpy to write the checkpoints (apt-get install python3-numpy)")


def make_models(b, models, smoke):
    """Paths of the files every measurement runs on; makes the missing ones."""
    if smoke:
        return {k: TINY for k in ("f16", "q6k", "tq2", "tq1", "q06")}
    os.makedirs(models, exist_ok=True)
    p = {k: os.path.join(models, f) for k, f in
         (("f16", "2b4t.gguf"), ("q6k", "2b4t_q6k.gguf"), ("tq2", "tq2.gguf"), ("tq1", "tq1.gguf"), ("q06", "q06.gguf"))}

    def made(path, make):  # written beside and renamed: an interrupted run leaves no half file
        if os.path.exists(path):
            return
        tmp = path + ".part"
        if os.path.exists(tmp):
            os.remove(tmp)
        make(tmp)
        os.replace(tmp, path)

    made(p["f16"], lambda out: run([b["demo"], out, "--preset", "2b4t"]))
    made(p["q6k"], lambda out: run([b["demo"], out, "--preset", "2b4t", "--embd-type", "q6_k"]))
    gen = os.path.join(ROOT, "tools", "reference", "make_hf_checkpoint.py")

    def converted(key, preset, extra):
        def make(out):
            with tempfile.TemporaryDirectory(dir=models) as hf:
                run([python_with_numpy(), gen, "--preset", preset, "--out", hf])
                run([b["tern"], "convert", hf, "-o", out] + extra)
        made(p[key], make)

    converted("tq2", "2b4t", ["--type", "tq2_0"])
    converted("tq1", "2b4t", ["--type", "tq1_0"])
    converted("q06", "qwen3-0.6b", [])
    return p


def bench(b, model, args, reps):
    """tern bench rows (jsonl) of one model."""
    out = run([b["tern"], "bench", "-m", model, "-r", str(reps), "-o", "jsonl", "--probes"] + args)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build folder (default: build)")
    ap.add_argument("--models", default=os.path.join(tempfile.gettempdir(), "tern-targets-models"),
                    help="where the generated models live (made once; default: $TMPDIR/tern-targets-models)")
    ap.add_argument("--reps", type=int, default=2, help="repetitions of each tern bench test (default 2)")
    ap.add_argument("--smoke", action="store_true", help="every step on the bundled tiny model: checks the script")
    a = ap.parse_args()
    b = {"tern": os.path.join(a.build, "tern"), "demo": os.path.join(a.build, "tern_make_demo_model"),
         "kbench": os.path.join(a.build, "bench", "tern_bench")}
    for k, path in b.items():
        if not os.path.exists(path):
            sys.exit(f"targets.py: {path} not found: build first (cmake -S . -B build && cmake --build build)")
    m = make_models(b, a.models, a.smoke)
    pp, tg, npl_tg = ("16", "8", "8") if a.smoke else ("512", "128", "64")
    rows = []  # (issue, target, measured, met)

    def target(issue, what, value, want, unit="%", at_most=False, note=""):
        met = value is not None and (value <= want if at_most else value >= want)
        fmt = {"%": "{:.1f} %", "x": "{:.2f}x", "s": "{:.2f} s", "MB": "{:.0f} MB"}[unit]
        shown = "—" if value is None else fmt.format(value) + note
        rows.append((issue, f"{what} {'<=' if at_most else '>='} {fmt.format(want)}", shown, "yes" if met else "no"))
        log(f"  {what}: {shown}")

    # tern bench --probes rows, judged once every probe of the run is in: a
    # probe taken in a slow minute inflates its test's percentage, so each is
    # also taken against the best probe of the run for its thread count (the
    # quiet machine's limit, as near as this run saw it), and that decides.
    probed = []  # (issue, what, row, want)

    def judged():
        best = {}
        for _, _, r, _ in probed:
            key = ("pp" if r["n_prompt"] > 0 else "tg", r["n_threads"])
            probe = r["probe_int8_gmacs"] if key[0] == "pp" else r["probe_read_gbps"]
            best[key] = max(best.get(key, 0.0), probe)
        for issue, what, r, want in probed:
            key = ("pp" if r["n_prompt"] > 0 else "tg", r["n_threads"])
            probe = r["probe_int8_gmacs"] if key[0] == "pp" else r["probe_read_gbps"]
            own = r["pct_limit"]
            target(issue, what, None if own is None else own * probe / best[key], want,
                   note="" if own is None else f" ({own:.1f} % of its own probe)")

    # issue 13: every layout, 2 threads (pp and tg), and 1 thread (pp).
    table = None
    layouts = (("f16", "I2_S + F16 output", []), ("q6k", "I2_S + Q6_K output", []),
               ("tq2", "TQ2_0 + Q6_K output", ["--output-type", "q6_k"]),
               ("tq1", "TQ1_0 + Q6_K output", ["--output-type", "q6_k"]))
    for key, name, extra in layouts:
        for r in bench(b, m[key], ["-p", pp, "-n", tg, "-t", "2"] + extra, a.reps):
            table = r["table"]
            kind = "pp" if r["n_prompt"] > 0 else "tg"
            probed.append((13, f"{name}, {r['test']}, 2 threads, % of {'int8 peak' if kind == 'pp' else 'read roofline'}",
                           r, 75 if kind == "pp" else 85))
    for r in bench(b, m["f16"], ["-p", pp, "-n", "0", "-t", "1"], a.reps):
        probed.append((13, f"I2_S + F16 output, {r['test']}, 1 thread, % of int8 peak", r, 75))

    # issue 13: the quantized output products alone (tern_bench; the active table's rows).
    filt = f"output/{table}/(Q8_0|Q6_K|Q4_K|Q5_K)/128256x2560/N:1/threads:(1|2)/"
    if a.smoke:  # one row (each type's matrix is 185-350 MB)
        filt = f"output/{table}/Q8_0/128256x2560/N:1/threads:1/"
    kb = json.loads(run([b["kbench"], "--benchmark_filter=" + filt, "--benchmark_format=json"]
                        + (["--benchmark_min_time=0.01"] if a.smoke else []), env={"TERN_BENCH_ALL": "1"}))
    for r in kb["benchmarks"]:
        parts = r["name"].split("/")
        th = parts[5].split(":")[1]
        target(13, f"{parts[2]} output product, {th} thread{'s' if th != '1' else ''}, % of read probe", r["pct_bw"], 85)

    # issue 12: the batching curve on both heads.
    for key, name, want in (("f16", "F16-head file", 3.0), ("q6k", "Q6_K-head file", 3.5)):
        curve = {r["n_seq"]: r["avg_ts"] for r in bench(b, m[key], ["-p", "0", "-n", npl_tg, "-t", "2", "--npl", "1,2,4,8,16"], a.reps)
                 if r["n_seq"] > 0}
        log(f"  {name}: " + ", ".join(f"x{k} {v:.1f} t/s" for k, v in sorted(curve.items())))
        target(12, f"{name}: 8 sequences / 1 sequence (t/s)", curve[8] / curve[1], want, unit="x")

    # issue 13: load time from a warm page cache (the first run warms it) and peak RSS at -c 512.
    size, kv = kv_bytes(b, m["f16"], 512)
    for warm in (False, True):
        out, rss = run_rss([b["tern"], "run", "-m", m["f16"], "--prompt-tokens", "1,2,3", "-n", "1", "-c", "512", "-t", "2"])
    load = float(next(line.split()[1] for line in out.splitlines() if line.startswith("load:")))
    target(13, "I2_S + F16 output, load from a warm page cache", load, 1.0, unit="s", at_most=True)
    target(13, f"I2_S + F16 output, -c 512, peak RSS (file {size / 1e6:.0f} MB + KV {kv / 1e6:.0f} MB + 100 MB)",
           rss / 1e6, (size + kv) / 1e6 + 100, unit="MB", at_most=True)

    # issue 13: a busy loop on one of the cores; -t 2 must not fall behind -t 1.
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        ts = {}
        for r in bench(b, m["f16"], ["-p", "16" if a.smoke else "64", "-n", "8" if a.smoke else "32", "-t", "1,2"], a.reps):
            ts[(r["test"], r["n_threads"])] = r["avg_ts"]
    finally:
        spinner.kill()
        spinner.wait()
    for test in sorted({t for t, _ in ts}):
        target(13, f"one core busy: {test} at -t 2 / at -t 1 (t/s)", ts[(test, 2)] / ts[(test, 1)], 1.0, unit="x")

    # issue 16: the 0.6B embedding shape's 120-token passages.
    for r in bench(b, m["q06"], ["-p", "16" if a.smoke else "120", "-n", "0", "-t", "2"], a.reps):
        probed.append((16, f"qwen3-0.6b shape, {r['test']}, 2 threads, % of int8 peak", r, 75))
    # 16 passages of 120 tokens (ids from the middle of the vocabulary), 4 to a batch of 512.
    n_tok = 16 if a.smoke else 120
    passages = ";".join(",".join(str(1000 + (7 * i + 13 * j) % 3000) for j in range(n_tok)) for i in range(16))
    size, kv = kv_bytes(b, m["q06"], 512)
    _, rss = run_rss([b["tern"], "embed", "-m", m["q06"], "--prompt-tokens", passages, "-b", "512", "-t", "2",
                      "--embd-output-format", "array"])
    target(16, f"qwen3-0.6b shape, embed 16 x {n_tok} tokens, peak RSS (file {size / 1e6:.0f} MB + KV {kv / 1e6:.0f} MB + 100 MB)",
           rss / 1e6, (size + kv) / 1e6 + 100, unit="MB", at_most=True)

    judged()
    print(f"| issue | target (table {table}) | measured | met |")
    print("|---:|---|---:|:---:|")
    for issue, what, shown, met in sorted(rows, key=lambda row: row[0]):  # by issue, in the order measured
        print(f"| {issue} | {what} | {shown} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
