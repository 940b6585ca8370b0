#!/usr/bin/env python3
"""Run the reference forward pass and save the logits.

  python3 tools/reference/run.py MODEL.gguf --tokens 1,2,3 --out logits.npy [--ffn-act relu2|silu]
  python3 tools/reference/run.py --hf HF_DIR --tokens 1,2,3 --out logits.npy
  python3 tools/reference/run.py EMBED.gguf --tokens "1,2,0;3,4,0" --out emb.npy [--pooling last] [--embd-normalize 2]
  python3 tools/reference/run.py --hf EMBED_HF_DIR --tokens "1,2,0;3,4,0" --out emb.npy [--float-linears]

An embedding model (qwen3 / gemma3, SPEC section 8) gives embeddings instead of logits: one row per
input (inputs separated by ';', each fed alone from position 0), pooled (default: the file's
pooling_type, else last; none: every token's row) and normalised as llama-embedding's
--embd-normalize (default 2, euclidean). A Hugging Face folder of model_type qwen3 / gemma3_text is
one too (pooling from sentence-transformers' 1_Pooling); its projections are ternarized unless
--float-linears keeps them in float (a teacher, what `tern convert --type f16` writes).

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
    ap.add_argument("--float-linears", action="store_true",
                    help="embedding checkpoints (--hf): compute the projections in float instead of ternarized")
    ap.add_argument("--safe-inputs", type=int, metavar="N", default=0,
                    help="embedding models: for each input keep its first and last token and draw the others (below "
                         "the largest id given) N times, using the draw farthest from any int8 rounding boundary "
                         "(so a float32 implementation gets the reference's codes); the inputs used go to stdout "
                         "as one 'a,b;c,d' line")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if bool(a.model) == bool(a.hf):
        ap.error("give exactly one of MODEL.gguf or --hf DIR")
    if a.model and M.gguf_io.read(a.model).kv("general.architecture") in M.EMBED_ARCHS:
        return embed(a, M.load_embed_gguf(a.model))
    if a.hf:
        import hf
        if hf.embed_model_type(hf.Checkpoint(a.hf).config):
            return embed(a, hf.load_hf_embed(a.hf, float_linears=a.float_linears))
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


def embed(a, m):
    pooling = a.pooling or m.hp.pooling or "last"
    inputs = [[int(t) for t in part.split(",") if t.strip()] for part in a.tokens.split(";")]
    if a.safe_inputs > 0:
        inputs = safest_inputs(m, inputs, a.safe_inputs)
        print(";".join(",".join(str(t) for t in x) for x in inputs))
    rows = [M.normalize(M.pool(m.hidden(t), pooling), a.embd_normalize) for t in inputs]
    out = np.concatenate(rows) if pooling == "none" else np.stack(rows)
    if not a.quiet:
        print(m.hp.describe())
        print("%d inputs, pooling %s, normalize %d -> %s" % (len(inputs), pooling, a.embd_normalize, out.shape))
    if a.out:
        np.save(a.out, out.astype(np.float64 if a.float64 else np.float32))
    return 0


def safest_inputs(m, inputs, tries):
    """Each input with its inner tokens redrawn `tries` times (numpy default_rng(0)): the draw whose
    activation quantizations stay farthest from a rounding boundary."""
    rng = np.random.default_rng(0)
    top = max(max(x) for x in inputs) + 1
    out = []
    for x in inputs:
        best = (-1.0, x)
        for _ in range(tries if len(x) > 2 else 1):
            cand = [x[0]] + rng.integers(0, top, size=len(x) - 2).tolist() + [x[-1]] if len(x) > 2 else x
            tr = {}
            m.hidden(cand, trace=tr)
            margin = min(tr["margins"]) if tr["margins"] else 0.5
            if margin > best[0]:
                best = (margin, cand)
        out.append(best[1])
    return out


if __name__ == "__main__":
    sys.exit(main())
