#!/usr/bin/env python3
"""Train a small BitNet b1.58 (2B4T architecture) on TinyStories, CPU only, and export it.

  /usr/bin/python3 tools/train/train.py [--work /tmp/tern-train] [--minutes 40] [--threads 1]

Steps (each output lands in --work; an existing checkpoint there is resumed):
  1. stories from the lower-cased TinyStories file, re-cased (data.py); 2% held out
  2. a SentencePiece BPE tokenizer (byte fallback, <unk>=0 <s>=1 </s>=2) on the training stories
  3. token stream "<s> story </s> <s> story </s> ...", random 256-token windows
  4. quantization-aware training (bitnet.py), AdamW, linear warmup + cosine decay; the schedule
     runs over --steps, or over --minutes of wall time when --steps is 0 (the default)
  5. loss curve PNG, metrics.json, and the Hugging Face folder WORK/NAME (export_hf.py; the
     folder name becomes the GGUF's general.name), with a symlink WORK/hf to it
"""
import argparse
import json
import math
import os
import random
import sys
import time

# Debian's python3-torch calls the reference BLAS unless told otherwise: use OpenBLAS
# (apt-get install libopenblas0-pthread) when it is there, ~6x faster matmuls.
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
if os.path.isdir(OPENBLAS) and OPENBLAS not in os.environ.get("LD_LIBRARY_PATH", ""):
    os.environ["LD_LIBRARY_PATH"] = OPENBLAS + ":" + os.environ.get("LD_LIBRARY_PATH", "")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data                                    # noqa: E402
from bitnet import BitNet, Config              # noqa: E402
from export_hf import export                   # noqa: E402

def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def prepare(a):
    """Stories -> train/held-out text files, tokenizer, token arrays (cached in a.work)."""
    tok_path = os.path.join(a.work, "tokenizer.model")
    npz = os.path.join(a.work, "tokens.npz")
    if os.path.exists(npz) and os.path.exists(tok_path):
        d = np.load(npz)
        return d["train"], d["val"], tok_path
    lower = os.path.join(a.corpora, "arnoochka_tinystories.txt")
    case = data.learn_case(open(os.path.join(a.corpora, "niklas6_tinystories.txt")).read(),
                           open(lower).read())
    stories = [data.recase(s, case) for s in data.read_stories(lower)]
    random.Random(a.seed).shuffle(stories)
    n_val = max(1, round(len(stories) * a.val_frac))
    val, train = stories[:n_val], stories[n_val:]
    for name, ss in (("train.txt", train), ("heldout.txt", val)):
        with open(os.path.join(a.work, name), "w") as f:
            f.write("\n".join(ss) + "\n")
    log(f"{len(train)} training stories, {len(val)} held out")
    spm.SentencePieceTrainer.train(
        input=os.path.join(a.work, "train.txt"), model_prefix=os.path.join(a.work, "tokenizer"),
        model_type="bpe", vocab_size=a.vocab, byte_fallback=True, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, split_digits=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        max_sentence_length=1 << 16, num_threads=1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=tok_path)

    def stream(ss):
        out = []
        for ids in sp.encode(ss):
            out += [sp.bos_id()] + ids + [sp.eos_id()]
        return np.array(out, dtype=np.int16)
    tr, va = stream(train), stream(val)
    np.savez(npz, train=tr, val=va)
    chars = sum(map(len, train))
    log(f"tokens: train {len(tr)}, held out {len(va)}; {chars / len(tr):.2f} chars/token")
    return tr, va, tok_path


@torch.no_grad()
def evaluate(model, val, ctx, max_windows=None):
    """Mean next-token loss over non-overlapping ctx+1 windows of the held-out stream."""
    model.eval()
    n = (len(val) - 1) // ctx
    if max_windows:
        n = min(n, max_windows)
    tot, cnt = 0.0, 0
    for i in range(0, n, 8):
        idx = [np.asarray(val[(i + j) * ctx:(i + j) * ctx + ctx + 1], dtype=np.int64)
               for j in range(min(8, n - i))]
        x = torch.from_numpy(np.stack(idx))
        logits = model(x[:, :-1])
        tot += F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten(), reduction="sum").item()
        cnt += x[:, 1:].numel()
    model.train()
    return tot / cnt


def plot(hist, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    s = [h["step"] for h in hist["train"]]
    ax.plot(s, [h["loss"] for h in hist["train"]], lw=0.6, alpha=0.5, label="train (per step)")
    k = 25
    if len(s) > k:
        sm = np.convolve([h["loss"] for h in hist["train"]], np.ones(k) / k, mode="valid")
        ax.plot(s[k - 1:], sm, lw=1.5, label=f"train ({k}-step mean)")
    ax.plot([h["step"] for h in hist["val"]], [h["loss"] for h in hist["val"]], "o-", label="held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/tern-train")
    ap.add_argument("--name", default="tern-tinystories-4m")
    ap.add_argument("--corpora", required=True,
                    help="folder with arnoochka_tinystories.txt (lower-cased TinyStories extract) and "
                         "niklas6_tinystories.txt (original-casing sample); see README.md")
    ap.add_argument("--png", default=os.path.join(HERE, "../../models"), help="folder for NAME-loss.png")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--val-frac", type=float, default=0.02)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=768)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=0, help="0: schedule over --minutes of wall time")
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-every", type=float, default=180, help="seconds")
    ap.add_argument("--ckpt-every", type=float, default=300, help="seconds")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    train, val, tok_path = prepare(a)
    cfg = Config(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                 num_hidden_layers=a.layers, num_attention_heads=a.heads,
                 num_key_value_heads=a.kv_heads, max_position_embeddings=a.ctx)
    model = BitNet(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if n.endswith("proj.weight")]
    other = [p for n, p in model.named_parameters() if not n.endswith("proj.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": other, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))
    ck_path = os.path.join(a.work, "ckpt.pt")
    step, elapsed, hist = 0, 0.0, {"train": [], "val": []}
    if os.path.exists(ck_path):
        ck = torch.load(ck_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed, hist = ck["step"], ck["elapsed"], ck["hist"]
        log(f"resumed at step {step}, {elapsed / 60:.1f} min")
    log(f"{n_params} parameters ({n_params - cfg.vocab_size * cfg.hidden_size} without the embedding); {cfg}")

    def progress():
        return step / a.steps if a.steps else elapsed / (a.minutes * 60)

    def save():
        ck = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
              "hist": hist, "config": cfg.to_dict(), "tokenizer_model": open(tok_path, "rb").read(),
              "args": vars(a)}
        torch.save(ck, ck_path + ".tmp")
        os.replace(ck_path + ".tmp", ck_path)

    rng = np.random.default_rng(a.seed + step)
    t_last = time.time()
    last_eval = last_ck = elapsed
    while progress() < 1.0:
        p = progress()
        lr = a.lr * (min(1.0, (step + 1) / a.warmup) if step < a.warmup else
                     a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, len(train) - a.ctx - 1, a.batch)
        x = torch.from_numpy(np.stack([train[s:s + a.ctx + 1] for s in starts]).astype(np.int64))
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        now = time.time()
        elapsed += now - t_last
        t_last = now
        hist["train"].append({"step": step, "loss": loss.item(), "lr": lr, "time": elapsed})
        if step % 10 == 0:
            tps = a.batch * a.ctx * 10 / (elapsed - hist["train"][-11]["time"]) if step > 10 else 0
            log(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {elapsed / 60:.1f} min {tps:.0f} tok/s")
        if elapsed - last_eval >= a.eval_every:
            v = evaluate(model, val, a.ctx, max_windows=32)
            hist["val"].append({"step": step, "loss": v, "time": elapsed})
            log(f"step {step} held-out loss {v:.4f} (32 windows)")
            last_eval = elapsed
            t_last = time.time()         # evaluation time does not count
        if elapsed - last_ck >= a.ckpt_every:
            save()
            last_ck = elapsed
            t_last = time.time()
    save()

    v = evaluate(model, val, a.ctx)
    hist["val"].append({"step": step, "loss": v, "time": elapsed})
    tr = float(np.mean([h["loss"] for h in hist["train"][-50:]]))
    metrics = {"name": a.name, "params": n_params, "steps": step, "train_minutes": elapsed / 60,
               "tokens_seen": step * a.batch * a.ctx, "train_tokens": len(train), "heldout_tokens": len(val),
               "final_train_loss_last50": tr, "final_heldout_loss": v, "heldout_ppl": math.exp(v),
               "config": cfg.to_dict(), "args": vars(a)}
    save()
    with open(os.path.join(a.work, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    log(json.dumps(metrics))
    os.makedirs(a.png, exist_ok=True)
    plot(hist, os.path.join(a.png, f"{a.name}-loss.png"),
         f"{a.name}: {n_params / 1e6:.1f}M params, ternary QAT, TinyStories")
    model.eval()
    hf_dir = os.path.join(a.work, a.name)
    export({k: v.numpy() for k, v in model.hf_state_dict().items()}, cfg.to_dict(),
           open(tok_path, "rb").read(), hf_dir)
    link = os.path.join(a.work, "hf")
    if os.path.islink(link) or not os.path.exists(link):
        if os.path.islink(link):
            os.remove(link)
        os.symlink(a.name, link)
    log("exported", hf_dir)


if __name__ == "__main__":
    main()
