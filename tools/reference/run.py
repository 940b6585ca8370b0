#!/usr/bin/env python3
"""Run the reference forward pass and save the logits.

  python3 tools/reference/run.py MODEL.gguf --tokens 1,2,3 --out logits.npy [--ffn-act relu2|silu]
  python3 tools/reference/run.py --hf HF_DIR --tokens 1,2,3 --out logits.npy
  python3 tools/reference/run.py EMBED.gguf --tokens "1,2,0;3,4,0" --out emb.npy [--pooling last] [--embd-normalize 2]

An embedding model (qwen3 / gemma3, SPEC section 8) gives embeddings instead of logits: one row per
input (inputs separated by ';', each fed alone from position 0), pooled (default: the file's
pooling_type, else last; none: every token's row) and normalised as llama-embedding's
--embd-normalize (default 2, euclidean).

Writes a [positions x vocab] array: float32 by default (computed in float64), float64 with
--float64. Prints the hyper-parameters, the format of every linear and the argmax per position.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import model as M  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", help="GGUF file")
    ap.add_argument("--hf", help="Hugging Face checkpoint folder (config.json + safetensors)")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--out", help="output .npy file")
    ap.add_argument("--ffn-act", choices=("relu2", "silu"),
                    help="override the FFN activation (default: tern.test.ffn_act key, else SPEC section 1)")
    ap.add_argument("--float64", action="store_true", help="save float64 instead of float32")
    ap.add_argument("--pooling", choices=M.POOLING, help="embedding models: pooling (default: the file's, else last)")
    ap.add_argument("--embd-normalize", type=int, default=2, help="embedding models: -1 none, 0 max-abs, 1, 2, >2 p-norm")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if bool(a.model) == bool(a.hf):
        ap.error("give exactly one of MODEL.gguf or --hf DIR")
    if a.model and M.gguf_io.read(a.model).kv("general.architecture") in M.EMBED_ARCHS:
        return embed(a)
    tokens = [int(t) for t in a.tokens.split(",") if t.strip()]
    if a.hf:
        import hf
        m = hf.load_hf(a.hf, ffn_act=a.ffn_act)
    else:
        m = M.load_gguf(a.model, ffn_act=a.ffn_act)
    logits = m.forward(tokens)
    if not a.quiet:
        print(m.hp.describe())
        L0 = m.layers[0]
        for k in M.LAYER_LINEARS:
            print("  blk.0.%-12s %-22s beta=%.9g" % (k, L0[k].source, L0[k].beta))
        print("output: %s" % ("tied to token_embd" if m.output is None else "output.weight"))
        print("argmax per position:", logits.argmax(axis=1).tolist())
    if a.out:
        np.save(a.out, logits.astype(np.float64 if a.float64 else np.float32))
    return 0


def embed(a):
    m = M.load_embed_gguf(a.model)
    pooling = a.pooling or m.hp.pooling or "last"
    inputs = [[int(t) for t in part.split(",") if t.strip()] for part in a.tokens.split(";")]
    rows = [M.normalize(M.pool(m.hidden(t), pooling), a.embd_normalize) for t in inputs]
    out = np.concatenate(rows) if pooling == "none" else np.stack(rows)
    if not a.quiet:
        print(m.hp.describe())
        print("%d inputs, pooling %s, normalize %d -> %s" % (len(inputs), pooling, a.embd_normalize, out.shape))
    if a.out:
        np.save(a.out, out.astype(np.float64 if a.float64 else np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
