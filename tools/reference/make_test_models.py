#!/usr/bin/env python3
"""Write the tiny golden GGUF test models and their golden logits into tests/data/models/.

  /usr/bin/python3 tools/reference/make_test_models.py [--out tests/data/models]

Deterministic: every model draws from numpy.random.default_rng([SEED, crc32(name)]).
For each model: NAME.gguf, NAME.logits.npy (float32 [positions x vocab], computed in float64 by
the reference forward pass reading the written GGUF back, i.e. what run.py prints), and one
entry in manifest.json. See tools/reference/README.md.
"""
import argparse
import json
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import formats as F  # noqa: E402
import gguf_io as G  # noqa: E402
import model as M  # noqa: E402

SEED = 20250607
N_TOKENS = 12
MAX_TRIES = 600           # token sequences tried per model
TARGET_MARGIN = 3e-4      # stop searching once every x*s is this far (int8 units) from k + 0.5

# name, arch, linear format, H, nh, nkv, I, V, rope theta, eps, token_embd type, extras
MODELS = [
    dict(name="b158_i2s_g4", arch="bitnet-b1.58", fmt="I2_S", H=128, nh=4, nkv=1, I=384, V=288,
         theta=500000.0, eps=1e-5, embd="F16"),
    dict(name="b158_i2s_rowspan_g2", arch="bitnet-b1.58", fmt="I2_S", H=192, nh=6, nkv=3, I=320, V=300,
         theta=10000.0, eps=1e-6, embd="Q8_0",
         notes="row lengths 192/320 are not multiples of 128: I2_S blocks span two rows; Q8_0 token_embd"),
    dict(name="b25_tq1_g2", arch="bitnet-25", fmt="TQ1_0", H=256, nh=8, nkv=4, I=256, V=272,
         theta=500000.0, eps=1e-5, embd="Q8_0", zero_block=True, no_vocab_size=True,
         notes="blk.0.attn_q row 5 all zero: a TQ block with d = 0; Q8_0 token_embd; no "
               "bitnet-25.vocab_size key (use the token count)"),
    dict(name="bitnet_relu2_tq2_g4", arch="bitnet", fmt="TQ2_0", H=256, nh=4, nkv=1, I=512, V=272,
         theta=500000.0, eps=1e-5, embd="Q8_0", ffn_act="relu2", zero_block=True,
         notes="`bitnet` arch with ReLU^2 (2B4T converted by mainline llama.cpp) but a small vocab: the "
               "activation must come from tern.test.ffn_act / an override; ffn_down rows are 2 TQ blocks; "
               "blk.0.attn_q row 5 all zero (a TQ block with d = 0); Q8_0 token_embd"),
    dict(name="bitnet_silu_i2s_g1", arch="bitnet", fmt="I2_S", H=128, nh=4, nkv=4, I=256, V=288,
         theta=10000.0, eps=1e-5, embd="F16", untied=True,
         notes="1bitLLM-like: bitnet arch, SiLU, theta 10000; untied F16 output.weight"),
    dict(name="llama_i2s_g2", arch="llama", fmt="I2_S", H=128, nh=4, nkv=2, I=256, V=288,
         theta=500000.0, eps=1e-5, embd="F16", alignment=64, nested=True,
         notes="general.alignment = 64; metadata holds a nested array (tern.test.nested)"),
    dict(name="llama_f16_g1", arch="llama", fmt="F16", H=64, nh=2, nkv=2, I=128, V=288,
         theta=10000.0, eps=1e-5, embd="F32", notes="F16 master weights: absmean ternarization at load; F32 token_embd"),
    dict(name="b158_f16_g2", arch="bitnet-b1.58", fmt="F16", H=64, nh=2, nkv=1, I=128, V=288,
         theta=500000.0, eps=1e-6, embd="F16", notes="F16 master weights: absmean ternarization at load"),
    dict(name="bitnet_silu_bf16tern_g4", arch="bitnet", fmt="BF16-ternary", H=64, nh=4, nkv=1, I=128, V=288,
         theta=10000.0, eps=1e-5, embd="F16",
         notes="BF16 linears holding {-a, 0, +a}: beta = a, not absmean; blk.0.attn_q also holds a few "
               "+-6e-8 values that count as 0 (SPEC: rounded to 0 below 1e-6)"),
    dict(name="llama_tq1_g4", arch="llama", fmt="TQ1_0", H=256, nh=4, nkv=1, I=256, V=264,
         theta=500000.0, eps=1e-5, embd="Q8_0", notes="Q8_0 token_embd"),
]

LINEAR_TYPE = {"I2_S": F.I2_S, "TQ2_0": F.TQ2_0, "TQ1_0": F.TQ1_0, "F16": F.F16, "BF16": F.BF16,
               "BF16-ternary": F.BF16}
EMBD_TYPE = {"F16": F.F16, "F32": F.F32, "Q8_0": F.Q8_0}


def nudge_absmean(w, margin=2e-3, quant=None):
    """Move master weights away from the absmean rounding boundary |w|/beta = 0.5 so that an
    implementation computing beta in float32 ternarizes exactly as the float64 reference.
    quant(w) returns w as stored (f16/bf16 rounding)."""
    w = quant(w)
    for _ in range(50):
        beta = max(np.abs(w).mean(), 1e-5)
        r = np.abs(w) / beta
        bad = np.abs(r - 0.5) < margin
        if not bad.any():
            return w
        target = np.where(r[bad] < 0.5, 0.5 - 4 * margin, 0.5 + 4 * margin) * beta
        w = w.copy()
        w[bad] = np.sign(w[bad]) * target
        w = quant(w)
    raise RuntimeError("could not move weights off the rounding boundary")


def pick_tokens(m, V, rng):
    """Among up to MAX_TRIES random sequences (with one repeated token), take the one whose
    activation quantizations stay farthest from a rounding boundary, so that an implementation
    with small float errors reproduces every int8 code of the reference."""
    best = (-1.0, None)
    for _ in range(MAX_TRIES):
        toks = rng.integers(0, V, size=N_TOKENS).tolist()
        toks[7] = toks[3]
        tr = {}
        m.forward(toks, trace=tr)
        mg = min(tr["margins"])
        if mg > best[0]:
            best = (mg, toks)
        if mg >= TARGET_MARGIN:
            break
    return best[1], best[0]


def f16q(w):
    return np.asarray(w, dtype=np.float64).astype(np.float16).astype(np.float64)


def bf16q(w):
    return F.round_bf16(np.asarray(w, dtype=np.float32))


def make_model(spec, out_dir):
    name = spec["name"]
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    arch, fmt = spec["arch"], spec["fmt"]
    H, nh, nkv, I, V = spec["H"], spec["nh"], spec["nkv"], spec["I"], spec["V"]
    D = H // nh
    L = 2
    act = spec.get("ffn_act") or M.default_ffn_act(arch, V)
    sub_norms = arch != "llama"
    ltype = LINEAR_TYPE[fmt]
    tensors = []        # (name, type, dims, bytes)
    mem_layers = []     # the same weights, in memory, to cross-check decoding

    def norm_vec(n):
        # gains spanning ~0.05 .. 8, log-uniform around a per-tensor centre
        centre = rng.uniform(np.log(0.3), np.log(2.0))
        g = np.exp(centre + rng.uniform(-1.8, 1.8, size=n))
        return np.clip(g, 0.05, 8.0).astype(np.float32).astype(np.float64)

    def add_linear(tname, out_f, in_f, first_q=False):
        std = rng.uniform(0.5, 2.0) / np.sqrt(in_f)
        w = rng.standard_normal((out_f, in_f)) * std
        dims = [in_f, out_f]
        if fmt in ("I2_S", "TQ2_0", "TQ1_0"):
            t, beta, _ = M.ternarize_float(w.astype(np.float32).astype(np.float64))
            if spec.get("zero_block") and first_q:
                t[5, :] = 0
            beta = np.float32(beta) if fmt == "I2_S" else np.float16(beta)
            raw = F.encode(ltype, trits=t, beta=float(beta))
            lin = M.BitLinear(tname, t, float(beta))
        elif fmt == "BF16-ternary":
            a = float(bf16q(std * rng.uniform(0.6, 1.0)))
            t = np.clip(np.rint(w / (0.8 * std)), -1, 1).astype(np.int8)
            vals = t.astype(np.float64) * a
            if first_q:
                idx = np.flatnonzero(t.reshape(-1) == 0)[:5]
                vals.reshape(-1)[idx] = np.array([1, -1, 1, -1, 1]) * 5.9604644775390625e-08  # 2^-24, exact in bf16
            raw = F.encode_bf16(vals)
            assert np.array_equal(F.decode_bf16(raw, vals.size).reshape(vals.shape), vals)
            lin = M.BitLinear(tname, t, a)
        else:
            quant = f16q if fmt == "F16" else bf16q
            vals = nudge_absmean(w, quant=quant)
            raw = F.encode(ltype, values=vals)
            t, beta, how = M.ternarize_float(vals)
            assert how == "absmean"
            lin = M.BitLinear(tname, t, beta)
        tensors.append((tname + ".weight", ltype, dims, raw))
        return lin

    def add_norm(tname, n):
        g = norm_vec(n)
        tensors.append((tname + ".weight", F.F32, [n], F.encode_f32(g)))
        return g

    embd_std = rng.uniform(0.5, 1.5)
    E = (rng.standard_normal((V, H)) * embd_std).astype(np.float32)
    et = EMBD_TYPE[spec["embd"]]
    E_raw = F.encode(et, values=E)
    E_dec = F.decode_float(et, E_raw, V * H).reshape(V, H)
    tensors.append(("token_embd.weight", et, [H, V], E_raw))
    for li in range(L):
        p = "blk.%d." % li
        lay = {"attn_norm": add_norm(p + "attn_norm", H)}
        lay["attn_q"] = add_linear(p + "attn_q", nh * D, H, first_q=(li == 0))
        lay["attn_k"] = add_linear(p + "attn_k", nkv * D, H)
        lay["attn_v"] = add_linear(p + "attn_v", nkv * D, H)
        if sub_norms:
            lay["attn_sub_norm"] = add_norm(p + "attn_sub_norm", nh * D)
        lay["attn_output"] = add_linear(p + "attn_output", H, nh * D)
        lay["ffn_norm"] = add_norm(p + "ffn_norm", H)
        lay["ffn_gate"] = add_linear(p + "ffn_gate", I, H)
        lay["ffn_up"] = add_linear(p + "ffn_up", I, H)
        if sub_norms:
            lay["ffn_sub_norm"] = add_norm(p + "ffn_sub_norm", I)
        lay["ffn_down"] = add_linear(p + "ffn_down", H, I)
        mem_layers.append(lay)
    out_norm = add_norm("output_norm", H)
    W_out = None
    if spec.get("untied"):
        Wo = (rng.standard_normal((V, H)) * rng.uniform(0.5, 1.5)).astype(np.float32)
        raw = F.encode_f16(Wo)
        W_out = F.decode_f16(raw, V * H).reshape(V, H)
        tensors.append(("output.weight", F.F16, [H, V], raw))

    bos, eos = 1, 2   # metadata only; the golden sequences are picked by pick_tokens
    md = {}
    md["general.architecture"] = G.string(arch)
    md["general.name"] = G.string("tern test %s" % name)
    md["general.alignment"] = G.u32(spec.get("alignment", 32))
    a = arch + "."
    md[a + "context_length"] = G.u32(2048)
    md[a + "embedding_length"] = G.u32(H)
    md[a + "feed_forward_length"] = G.u32(I)
    md[a + "block_count"] = G.u32(L)
    md[a + "attention.head_count"] = G.u32(nh)
    md[a + "attention.head_count_kv"] = G.u32(nkv)
    md[a + "attention.layer_norm_rms_epsilon"] = G.f32(spec["eps"])
    md[a + "rope.freq_base"] = G.f32(spec["theta"])
    md[a + "rope.dimension_count"] = G.u32(D)
    if not spec.get("no_vocab_size"):
        md[a + "vocab_size"] = G.u32(V)
    md["tokenizer.ggml.model"] = G.string("gpt2")
    md["tokenizer.ggml.tokens"] = G.array(G.STRING, ["t%d" % i for i in range(V)])
    md["tokenizer.ggml.token_type"] = G.array(G.INT32, [1] * V)
    md["tokenizer.ggml.merges"] = G.array(G.STRING, [])
    md["tokenizer.ggml.bos_token_id"] = G.u32(bos)
    md["tokenizer.ggml.eos_token_id"] = G.u32(eos)
    md["tokenizer.ggml.add_bos_token"] = G.boolean(True)
    md["tern.test.ffn_act"] = G.string(act)
    if spec.get("nested"):
        md["tern.test.nested"] = G.array(G.ARRAY, [G.array(G.INT32, [1, 2, 3]), G.array(G.STRING, ["a", "bc"]),
                                                   G.array(G.FLOAT64, [])])
    path = os.path.join(out_dir, name + ".gguf")
    G.write(path, md, tensors)

    m = M.load_gguf(path)
    tokens, margin = pick_tokens(m, V, np.random.default_rng([SEED, zlib.crc32(name.encode()), 1]))
    logits = m.forward(tokens)

    # cross-check: the in-memory weights give bit-identical logits (encode/decode is lossless)
    hp = M.HParams(arch, H, I, L, nh, nkv, np.float32(spec["eps"]), np.float32(spec["theta"]),
                   n_rot=D, n_vocab=V, ffn_act=act)
    m2 = M.Model(hp, E_dec, out_norm, mem_layers, output=W_out)
    assert np.array_equal(m2.forward(tokens), logits), name
    # expected float32 implementation drift
    l32 = m.forward(tokens, dtype=np.float32).astype(np.float64)
    drift = float(np.abs(l32 - logits).max())

    gpath = os.path.join(out_dir, name + ".logits.npy")
    np.save(gpath, logits.astype(np.float32))
    L0 = m.layers[0]
    return {
        "name": name,
        "file": name + ".gguf",
        "golden": name + ".logits.npy",
        "tokens": tokens,
        "arch": arch,
        "format": fmt,
        "gqa": nh // nkv,
        "ffn_act": act,
        "rope": m.hp.rope_type,
        "sub_norms": sub_norms,
        "n_embd": H, "n_ff": I, "n_layer": L, "n_head": nh, "n_head_kv": nkv, "head_dim": D,
        "n_vocab": V,
        "rope_freq_base": spec["theta"], "rms_eps": spec["eps"],
        "token_embd_type": spec["embd"],
        "output": "F16 output.weight" if spec.get("untied") else "tied",
        "alignment": spec.get("alignment", 32),
        "golden_dtype": "float32",
        "golden_shape": list(logits.shape),
        "max_abs_logit": float(np.abs(logits).max()),
        "f32_sim_max_abs_diff": drift,
        "min_quant_margin": margin,
        "blk0_attn_q_beta": L0["attn_q"].beta,
        "notes": spec.get("notes", ""),
    }


# ---------------------------------------------------------------------------- embedding models (SPEC section 8)
# name, arch, linear format ("I2_S" with *_norm_in gains, or the "F16" teacher without them), sizes (head_dim D is
# not H / nh), sliding window (gemma3: window 4, pattern 2 -> layer 0 local, layer 1 global), pooling_type.
EMBED_MODELS = [
    dict(name="qwen3_i2s_embd", arch="qwen3", fmt="I2_S", H=64, nh=4, nkv=2, D=32, I=128, pooling=3,
         theta=1000000.0, eps=1e-6),
    dict(name="qwen3_f16_embd", arch="qwen3", fmt="F16", H=32, nh=4, nkv=2, D=16, I=64, pooling=1,
         theta=1000000.0, eps=1e-6),
    dict(name="gemma3_i2s_embd", arch="gemma3", fmt="I2_S", H=64, nh=4, nkv=1, D=32, I=128, pooling=3,
         theta=1000000.0, eps=1e-6, swa=4),
    dict(name="gemma3_f16_embd", arch="gemma3", fmt="F16", H=32, nh=2, nkv=1, D=32, I=64, pooling=3,
         theta=1000000.0, eps=1e-6, swa=4),
]
EMBED_INPUT_LENGTHS = (7, 3, 11, 5)   # some longer than the sliding window
EMBED_SPECIALS = ["<|endoftext|>", "<bos>"]
V_EMBED = 2 + 94 + 1   # embed_vocab(): specials, printable ASCII, the space


def embed_vocab():
    """Two control tokens, then one token per printable ASCII byte in GPT-2's byte alphabet ('!'..'~' stand
    for themselves, the space is U+0120): with no merges, any ASCII text tokenizes byte by byte."""
    return EMBED_SPECIALS + [chr(c) for c in range(0x21, 0x7f)] + ["\u0120"]


def make_embed_model(spec, out_dir):
    name = spec["name"]
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    arch, fmt = spec["arch"], spec["fmt"]
    H, nh, nkv, D, I = spec["H"], spec["nh"], spec["nkv"], spec["D"], spec["I"]
    vocab = embed_vocab()
    V = len(vocab)
    Lc = 2
    ternary = fmt == "I2_S"
    gemma = arch == "gemma3"
    tensors = []

    def norm_vec(n):
        centre = rng.uniform(np.log(0.5), np.log(1.5))
        return np.exp(centre + rng.uniform(-0.7, 0.7, size=n)).astype(np.float32).astype(np.float64)

    def add_norm(tname, n):
        g = norm_vec(n)
        tensors.append((tname + ".weight", F.F32, [n], F.encode_f32(g)))
        return g

    def add_linear(tname, out_f, in_f):
        w = rng.standard_normal((out_f, in_f)) * (rng.uniform(0.5, 2.0) / np.sqrt(in_f))
        if ternary:
            t, beta, _ = M.ternarize_float(w.astype(np.float32).astype(np.float64))
            beta = float(np.float32(beta))
            tensors.append((tname + ".weight", F.I2_S, [in_f, out_f], F.encode(F.I2_S, trits=t, beta=beta)))
            return M.BitLinear(tname, t, beta)
        vals = f16q(w)
        tensors.append((tname + ".weight", F.F16, [in_f, out_f], F.encode(F.F16, values=vals)))
        return M.FloatLinear(tname, vals)

    E = (rng.standard_normal((V, H)) * (0.05 if gemma else 1.0)).astype(np.float32)   # gemma scales by sqrt(H)
    E_raw = F.encode(F.F16, values=E)
    tensors.append(("token_embd.weight", F.F16, [H, V], E_raw))
    E_dec = F.decode_float(F.F16, E_raw, V * H).reshape(V, H)
    shapes = {"attn_q": (nh * D, H), "attn_k": (nkv * D, H), "attn_v": (nkv * D, H), "attn_output": (H, nh * D),
              "ffn_gate": (I, H), "ffn_up": (I, H), "ffn_down": (H, I)}
    layers = []
    for li in range(Lc):
        p = "blk.%d." % li
        lay = {"attn_norm": add_norm(p + "attn_norm", H), "ffn_norm": add_norm(p + "ffn_norm", H),
               "attn_q_norm": add_norm(p + "attn_q_norm", D), "attn_k_norm": add_norm(p + "attn_k_norm", D)}
        if gemma:
            lay["post_attention_norm"] = add_norm(p + "post_attention_norm", H)
            lay["post_ffw_norm"] = add_norm(p + "post_ffw_norm", H)
        for k in M.EMBED_LINEARS:
            out_f, in_f = shapes[k]
            if ternary:
                lay[k + "_norm_in"] = add_norm(p + k + "_norm_in", in_f)
            lay[k] = add_linear(p + k, out_f, in_f)
        layers.append(lay)
    out_norm = add_norm("output_norm", H)

    md = {}
    a = arch + "."
    md["general.architecture"] = G.string(arch)
    md["general.name"] = G.string("tern test %s" % name)
    md[a + "context_length"] = G.u32(64)
    md[a + "embedding_length"] = G.u32(H)
    md[a + "feed_forward_length"] = G.u32(I)
    md[a + "block_count"] = G.u32(Lc)
    md[a + "attention.head_count"] = G.u32(nh)
    md[a + "attention.head_count_kv"] = G.u32(nkv)
    md[a + "attention.key_length"] = G.u32(D)
    md[a + "attention.value_length"] = G.u32(D)
    md[a + "attention.layer_norm_rms_epsilon"] = G.f32(spec["eps"])
    md[a + "rope.freq_base"] = G.f32(spec["theta"])
    md[a + "pooling_type"] = G.u32(spec["pooling"])
    if spec.get("swa"):
        md[a + "attention.sliding_window"] = G.u32(spec["swa"])
        md[a + "attention.sliding_window_pattern"] = G.u32(2)
        md[a + "rope.freq_base_swa"] = G.f32(10000.0)
    md["tokenizer.ggml.model"] = G.string("gpt2")
    md["tokenizer.ggml.pre"] = G.string("gpt-2")
    md["tokenizer.ggml.tokens"] = G.array(G.STRING, vocab)
    md["tokenizer.ggml.token_type"] = G.array(G.INT32, [3] * len(EMBED_SPECIALS) + [1] * (V - len(EMBED_SPECIALS)))
    md["tokenizer.ggml.merges"] = G.array(G.STRING, [])
    md["tokenizer.ggml.eos_token_id"] = G.u32(0)
    md["tokenizer.ggml.bos_token_id"] = G.u32(1)
    md["tokenizer.ggml.add_bos_token"] = G.boolean(gemma)
    md["tokenizer.ggml.add_eos_token"] = G.boolean(True)
    path = os.path.join(out_dir, name + ".gguf")
    G.write(path, md, tensors)

    m = M.load_embed_gguf(path)
    hp2 = M.EmbedHParams(arch, H, I, Lc, nh, nkv, D, np.float32(spec["eps"]), np.float32(spec["theta"]), n_vocab=V,
                         swa_window=spec.get("swa", 0), swa_pattern=2, rope_theta_swa=10000.0)
    m2 = M.EmbedModel(hp2, E_dec, out_norm, layers)
    # Inputs: for ternary models the sequence (of up to MAX_TRIES) farthest from any int8 rounding boundary.
    trng = np.random.default_rng([SEED, zlib.crc32(name.encode()), 1])
    inputs, margins, rows = [], [], []
    for n in EMBED_INPUT_LENGTHS:
        best = (-1.0, None)
        for _ in range(MAX_TRIES if ternary else 1):
            toks = trng.integers(len(EMBED_SPECIALS), V, size=n).tolist()
            toks[-1] = 0   # the EOS that last-token pooling reads
            tr = {}
            m.hidden(toks, trace=tr)
            mg = min(tr["margins"]) if tr["margins"] else 0.5
            if mg > best[0]:
                best = (mg, toks)
            if mg >= TARGET_MARGIN:
                break
        inputs.append(best[1])
        margins.append(best[0])
        r = m.hidden(best[1])
        assert np.array_equal(m2.hidden(best[1]), r), name   # encode/decode is lossless
        rows.append(r)
    golden = np.concatenate(rows).astype(np.float32)
    gpath = os.path.join(out_dir, name + ".hidden.npy")
    np.save(gpath, golden)
    drift = max(float(np.abs(m.hidden(t, dtype=np.float32) - m.hidden(t)).max()) for t in inputs)
    return {
        "name": name, "file": name + ".gguf", "golden": name + ".hidden.npy", "inputs": inputs,
        "arch": arch, "format": fmt, "norm_in": ternary, "n_embd": H, "n_ff": I, "n_layer": Lc, "n_head": nh,
        "n_head_kv": nkv, "head_dim": D, "n_vocab": V, "pooling": M.POOLING[spec["pooling"]],
        "sliding_window": spec.get("swa", 0), "sliding_window_pattern": 2 if spec.get("swa") else None,
        "min_quant_margin": min(margins), "f32_sim_max_abs_diff": drift,
    }


# The released models' shapes, for timing (random trits, a small vocabulary; no golden).
EMBED_SHAPES = {
    "qwen3-0.6b": dict(arch="qwen3", H=1024, L=28, nh=16, nkv=8, D=128, I=3072),
    "gemma3-270m": dict(arch="gemma3", H=640, L=18, nh=4, nkv=1, D=256, I=2048),
}


def write_embed_shape_model(preset, path, vocab=4096):
    """An I2_S embedding model of a released model's shape with *_norm_in gains: for `tern bench` /
    `tern embed` timings only (its vocabulary is EMBED_SPECIALS plus filler pieces)."""
    s = EMBED_SHAPES[preset]
    rng = np.random.default_rng([SEED, zlib.crc32(preset.encode())])
    H, I, D, nh, nkv, arch = s["H"], s["I"], s["D"], s["nh"], s["nkv"], s["arch"]
    shapes = {"attn_q": (nh * D, H), "attn_k": (nkv * D, H), "attn_v": (nkv * D, H), "attn_output": (H, nh * D),
              "ffn_gate": (I, H), "ffn_up": (I, H), "ffn_down": (H, I)}
    tensors = [("token_embd.weight", F.F16, [H, vocab], F.encode_f16(rng.standard_normal((vocab, H)) * 0.05))]
    ones = lambda n, name: (name, F.F32, [n], F.encode_f32(np.exp(rng.uniform(-0.5, 0.5, size=n))))  # noqa: E731
    for li in range(s["L"]):
        p = "blk.%d." % li
        for k in ("attn_norm", "ffn_norm") + (("post_attention_norm", "post_ffw_norm") if arch == "gemma3" else ()):
            tensors.append(ones(H, p + k + ".weight"))
        tensors += [ones(D, p + "attn_q_norm.weight"), ones(D, p + "attn_k_norm.weight")]
        for k, (o, i) in shapes.items():
            tensors.append(ones(i, p + k + "_norm_in.weight"))
            t = rng.integers(-1, 2, size=(o, i), dtype=np.int8)
            tensors.append((p + k + ".weight", F.I2_S, [i, o], F.encode_i2s(t, 0.02)))
    tensors.append(ones(H, "output_norm.weight"))
    a = arch + "."
    md = {"general.architecture": G.string(arch), "general.name": G.string("%s shape (random)" % preset),
          a + "context_length": G.u32(32768), a + "embedding_length": G.u32(H), a + "feed_forward_length": G.u32(I),
          a + "block_count": G.u32(s["L"]), a + "attention.head_count": G.u32(nh),
          a + "attention.head_count_kv": G.u32(nkv), a + "attention.key_length": G.u32(D),
          a + "attention.value_length": G.u32(D), a + "attention.layer_norm_rms_epsilon": G.f32(1e-6),
          a + "rope.freq_base": G.f32(1000000.0), a + "pooling_type": G.u32(3),
          "tokenizer.ggml.model": G.string("gpt2"), "tokenizer.ggml.pre": G.string("gpt-2"),
          "tokenizer.ggml.tokens": G.array(G.STRING, embed_vocab() + ["[PAD%d]" % i for i in range(vocab - V_EMBED)]),
          "tokenizer.ggml.token_type": G.array(G.INT32, [3, 3] + [1] * (vocab - 2)),
          "tokenizer.ggml.merges": G.array(G.STRING, []), "tokenizer.ggml.eos_token_id": G.u32(0),
          "tokenizer.ggml.add_eos_token": G.boolean(True)}
    if arch == "gemma3":
        md[a + "attention.sliding_window"] = G.u32(512)
        md[a + "rope.freq_base_swa"] = G.f32(10000.0)
    G.write(path, md, tensors)


def main_embed(out):
    entries = []
    for spec in EMBED_MODELS:
        e = make_embed_model(spec, out)
        entries.append(e)
        print("%-18s %-7s %-5s H=%d D=%d I=%d V=%d margin=%.2e f32-drift=%.3g" % (
            e["name"], e["arch"], e["format"], e["n_embd"], e["head_dim"], e["n_ff"], e["n_vocab"],
            e["min_quant_margin"], e["f32_sim_max_abs_diff"]))
    manifest = {
        "generator": "tools/reference/make_test_models.py --embed (numpy default_rng([%d, crc32(name)]))" % SEED,
        "reference": "tools/reference/model.py EmbedModel: float64 qwen3 / gemma3 graph of SPEC section 8",
        "golden": "float32 .npy [sum of input lengths, n_embd]: the output-normed hidden rows of every input "
                  "(each fed alone from position 0), inputs one after another; pool and normalise them as "
                  "model.pool / model.normalize do",
        "models": entries,
    }
    with open(os.path.join(out, "embed_manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return 0


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "data", "models"))
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--embed", action="store_true", help="write only the embedding models and embed_manifest.json")
    ap.add_argument("--embed-shape", choices=sorted(EMBED_SHAPES),
                    help="write an I2_S model of that released shape with random weights to --out FILE (timings)")
    a = ap.parse_args(argv)
    if a.embed_shape:
        write_embed_shape_model(a.embed_shape, a.out)
        return 0
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    if a.embed:
        return main_embed(out)
    only = set(a.only.split(",")) if a.only else None
    entries = []
    for spec in MODELS:
        if only and spec["name"] not in only:
            continue
        e = make_model(spec, out)
        entries.append(e)
        print("%-24s %-12s %-12s gqa=%d H=%d I=%d V=%d |logit|max=%.3g f32-drift=%.3g margin=%.2e" % (
            e["name"], e["arch"], e["format"], e["gqa"], e["n_embd"], e["n_ff"], e["n_vocab"],
            e["max_abs_logit"], e["f32_sim_max_abs_diff"], e["min_quant_margin"]))
    if only:
        return 0
    manifest = {
        "generator": "tools/reference/make_test_models.py (numpy default_rng([%d, crc32(name)]))" % SEED,
        "reference": "tools/reference/model.py: float64 forward pass written from SPEC.md",
        "golden": "float32 .npy, shape [len(tokens), n_vocab]: logits for every position of `tokens` "
                  "(prefill from position 0), computed in float64 and rounded to float32",
        "tolerance_hint": "min_quant_margin: every x*s of every activation quantization in the float64 reference "
                          "is at least this far (int8 units) from a rounding boundary k+0.5, so an implementation "
                          "whose pre-quantization activations are within ~margin/127 relative reproduces every "
                          "int8 code. f32_sim_max_abs_diff: the same reference run in float32. Compare with an "
                          "absolute tolerance ~1e-4 * max_abs_logit; one flipped int8 code moves logits by up "
                          "to ~1e-2 * max_abs_logit (quantized nets amplify it), which signals float error "
                          "large enough to cross a margin, not necessarily a bug",
        "models": entries,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out, fn)) for fn in os.listdir(out))
    print("wrote %d models, %d bytes in %s" % (len(entries), total, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
