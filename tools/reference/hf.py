"""Load a Hugging Face BitNet checkpoint folder into the reference model (SPEC.md sections 1, 7).

Supports
  * config.json + model.safetensors, or model.safetensors.index.json + shards;
  * BF16 / F16 / F32 weights (ternarized at load: already-ternary floats keep beta = max|W|,
    others use absmean, SPEC section 3);
  * the packed 2B4T form: uint8 [ceil(out/4), in] with 4 row blocks in the bit pairs,
    W[i*out/4 + r, c] = ((packed[r, c] >> 2i) & 3) - 1, plus `<name>_scale`-style
    `weight_scale` per linear; quantization_config.linear_class `autobitlinear` multiplies
    (weight_scale = beta), `bitlinear` (the default of that config) divides (weight_scale = 1/beta);
  * 2B4T naming (attn_sub_norm, ffn_sub_norm) and 1bitLLM naming (inner_attn_ln, ffn_layernorm,
    BitnetForCausalLM, rotary_emb.inv_freq buffers ignored); plain LlamaForCausalLM ternary
    checkpoints (no sub-norms).
HF checkpoints are never permuted, so RoPE is NEOX (rotate-half) for every one of them.

Also contains a small safetensors writer and packer used by the self-tests.
Shares no code with the C++ implementation.
"""
import json
import os
import struct

import numpy as np

import formats
import model as M

ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "bf16", "U8": "u1", "I8": "i1",
             "I16": "<i2", "I32": "<i4", "I64": "<i8", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "u1"}


class HFError(Exception):
    pass


# --------------------------------------------------------------------------- safetensors
class SafeTensors:
    def __init__(self, path):
        self.path = path
        self.mm = np.memmap(path, dtype=np.uint8, mode="r")
        if self.mm.size < 8:
            raise HFError("%s: too short for a safetensors file" % path)
        n = struct.unpack("<Q", self.mm[:8].tobytes())[0]
        if 8 + n > self.mm.size:
            raise HFError("%s: header length %d past end of file" % (path, n))
        self.header = json.loads(self.mm[8:8 + n].tobytes().decode("utf-8"))
        self.base = 8 + n
        self.meta = self.header.pop("__metadata__", None)

    def names(self):
        return list(self.header)

    def info(self, name):
        return self.header[name]

    def get(self, name):
        h = self.header[name]
        dt = h["dtype"]
        if dt not in ST_DTYPES:
            raise HFError("%s: tensor %s has unsupported dtype %s" % (self.path, name, dt))
        a, b = h["data_offsets"]
        if not (0 <= a <= b and self.base + b <= self.mm.size):
            raise HFError("%s: tensor %s data offsets out of range" % (self.path, name))
        raw = self.mm[self.base + a:self.base + b]
        shape = tuple(h["shape"])
        if dt == "BF16":
            arr = formats.decode_bf16(raw, int(np.prod(shape)))
        else:
            arr = np.frombuffer(raw.tobytes(), dtype=ST_DTYPES[dt])
            if arr.size != int(np.prod(shape)):
                raise HFError("%s: tensor %s size mismatch" % (self.path, name))
        return arr.reshape(shape), dt


class Checkpoint:
    def __init__(self, folder):
        self.folder = folder
        cfg_path = os.path.join(folder, "config.json")
        if not os.path.exists(cfg_path):
            raise HFError("%s: config.json missing" % folder)
        with open(cfg_path) as f:
            self.config = json.load(f)
        self.where = {}
        self.files = {}
        idx = os.path.join(folder, "model.safetensors.index.json")
        single = os.path.join(folder, "model.safetensors")
        if os.path.exists(idx):
            with open(idx) as f:
                wm = json.load(f)["weight_map"]
            for name, fn in wm.items():
                self.where[name] = fn
        elif os.path.exists(single):
            for name in SafeTensors(single).names():
                self.where[name] = "model.safetensors"
        else:
            raise HFError("%s: neither model.safetensors nor model.safetensors.index.json" % folder)

    def _file(self, fn):
        if fn not in self.files:
            self.files[fn] = SafeTensors(os.path.join(self.folder, fn))
        return self.files[fn]

    def has(self, name):
        return name in self.where

    def get(self, name):
        if name not in self.where:
            raise HFError("%s: tensor %s missing" % (self.folder, name))
        st = self._file(self.where[name])
        if name not in st.header:
            raise HFError("%s: index says %s is in %s but it is not" % (self.folder, name, self.where[name]))
        return st.get(name)


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> (np array, dtype string in ST_DTYPES). BF16 takes float values."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name, (arr, dt) in tensors.items():
        if dt == "BF16":
            b = formats.encode_bf16(np.asarray(arr, dtype=np.float32))
        else:
            b = np.ascontiguousarray(np.asarray(arr).astype(ST_DTYPES[dt])).tobytes()
        header[name] = {"dtype": dt, "shape": list(np.shape(arr)), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path + ".partial", "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    os.replace(path + ".partial", path)


# --------------------------------------------------------------------------- packed 2B4T linears
def pack_2b4t(trits):
    """trits [out, in] -> uint8 [ceil(out/4), in]: row i*R + r in bits 2i..2i+1 of packed[r]."""
    t = np.asarray(trits, dtype=np.int64)
    out, cols = t.shape
    R = (out + 3) // 4
    codes = np.full((4 * R, cols), 1, dtype=np.int64)    # padding rows: code 1 = weight 0
    codes[:out] = t + 1
    p = np.zeros((R, cols), dtype=np.int64)
    for i in range(4):
        p |= codes[i * R:(i + 1) * R] << (2 * i)
    return p.astype(np.uint8)


def unpack_2b4t(packed, out_features):
    p = np.asarray(packed, dtype=np.uint8)
    R = p.shape[0]
    if out_features > 4 * R:
        raise HFError("packed weight with %d rows cannot hold %d output rows" % (R, out_features))
    rows = [((p >> (2 * i)) & 3).astype(np.int8) for i in range(4)]
    codes = np.concatenate(rows, axis=0)[:out_features]
    if (codes == 3).any():
        raise HFError("packed weight holds code 3 (not ternary)")
    return codes - 1


# --------------------------------------------------------------------------- model building
# The projections' HF names -> GGUF names.
HF_TO_GGUF = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down"}


def _linear_class(cfg):
    qc = cfg.get("quantization_config") or {}
    return qc.get("linear_class", "bitlinear") if qc else None


def load_hf(folder, ffn_act=None):
    ck = Checkpoint(folder)
    cfg = ck.config
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim")
    if hd is not None and hd != H // nh:
        raise HFError("head_dim %d != hidden_size / num_attention_heads; not covered by SPEC" % hd)
    L = cfg["num_hidden_layers"]
    I = cfg["intermediate_size"]
    archs = cfg.get("architectures") or []
    mt = cfg.get("model_type", "")
    # sub-norm naming
    p0 = "model.layers.0."
    if ck.has(p0 + "self_attn.attn_sub_norm.weight"):
        sub = ("self_attn.attn_sub_norm", "mlp.ffn_sub_norm")
    elif ck.has(p0 + "self_attn.inner_attn_ln.weight"):
        sub = ("self_attn.inner_attn_ln", "mlp.ffn_layernorm")
    else:
        sub = None
    if mt == "bitnet" or "BitNetForCausalLM" in archs:
        arch = "bitnet-b1.58"
    elif "BitnetForCausalLM" in archs:
        arch = "bitnet"
    else:
        arch = "bitnet" if sub else "llama"
    act = ffn_act
    if act is None:
        ha = cfg.get("hidden_act")
        if ha in ("relu2", "silu"):
            act = ha
        elif ha is not None:
            raise HFError("hidden_act %r not supported (relu2 or silu)" % ha)
    hp = M.HParams(arch, n_embd=H, n_ff=I, n_layer=L, n_head=nh, n_head_kv=nkv,
                   eps=cfg.get("rms_norm_eps", 1e-6), rope_theta=cfg.get("rope_theta", 10000.0),
                   n_vocab=cfg.get("vocab_size"), n_ctx=cfg.get("max_position_embeddings"),
                   ffn_act=act, rope_type="neox", sub_norms=sub is not None)
    lclass = _linear_class(cfg)

    def linear(name, out_features):
        w, dt = ck.get(name + ".weight")
        if dt == "U8" and w.shape[0] != out_features:
            t = unpack_2b4t(w, out_features)
            if not ck.has(name + ".weight_scale"):
                raise HFError("%s: packed weight without weight_scale" % name)
            ws, _ = ck.get(name + ".weight_scale")
            ws = np.asarray(ws, dtype=np.float64).reshape(-1)
            if ws.size != 1:
                raise HFError("%s.weight_scale has %d values; per-tensor expected" % (name, ws.size))
            if lclass is None:
                raise HFError("%s: packed weights but no quantization_config.linear_class" % name)
            beta = float(ws[0]) if lclass == "autobitlinear" else 1.0 / float(ws[0])
            return M.BitLinear(name, t, beta, "U8-packed/%s" % lclass)
        if dt not in ("F32", "F16", "BF16", "F64"):
            raise HFError("%s: dtype %s not supported for a linear" % (name, dt))
        t, beta, how = M.ternarize_float(w)
        return M.BitLinear(name, t, beta, "%s/%s" % (dt, how))

    D = H // nh
    outs = {"self_attn.q_proj": nh * D, "self_attn.k_proj": nkv * D, "self_attn.v_proj": nkv * D,
            "self_attn.o_proj": H, "mlp.gate_proj": I, "mlp.up_proj": I, "mlp.down_proj": H}
    layers = []
    for i in range(L):
        p = "model.layers.%d." % i
        Ld = {HF_TO_GGUF[k]: linear(p + k, o) for k, o in outs.items()}
        Ld["attn_norm"] = ck.get(p + "input_layernorm.weight")[0].astype(np.float64)
        Ld["ffn_norm"] = ck.get(p + "post_attention_layernorm.weight")[0].astype(np.float64)
        if sub:
            Ld["attn_sub_norm"] = ck.get(p + sub[0] + ".weight")[0].astype(np.float64)
            Ld["ffn_sub_norm"] = ck.get(p + sub[1] + ".weight")[0].astype(np.float64)
        layers.append(Ld)
    emb = ck.get("model.embed_tokens.weight")[0].astype(np.float64)
    if hp.n_vocab is None:
        hp.n_vocab = emb.shape[0]
    tied = cfg.get("tie_word_embeddings", True)
    out = None
    if not tied:
        if not ck.has("lm_head.weight"):
            raise HFError("tie_word_embeddings is false but lm_head.weight is missing")
        out = ck.get("lm_head.weight")[0].astype(np.float64)
    elif ck.has("lm_head.weight"):
        out = None  # tied: HF ignores a stored lm_head copy
    m = M.Model(hp, emb, ck.get("model.norm.weight")[0].astype(np.float64), layers, output=out)
    m.source = folder
    return m


# --------------------------------------------------------------------------- embedding models (SPEC section 8)
EMBED_MODEL_TYPES = {"qwen3": ("qwen3", ("Qwen3Model", "Qwen3ForCausalLM")),
                     "gemma3_text": ("gemma3", ("Gemma3TextModel", "Gemma3ForCausalLM"))}


def embed_model_type(cfg):
    """'qwen3' / 'gemma3_text' for a BitNet embedding checkpoint, else None."""
    mt = cfg.get("model_type")
    if mt is not None:
        return mt if mt in EMBED_MODEL_TYPES else None
    archs = cfg.get("architectures") or []
    for k, (_, classes) in EMBED_MODEL_TYPES.items():
        if archs and archs[0] in classes:
            return k
    return None


def st_pooling(folder):
    """sentence-transformers' pooling of the folder: the Pooling module of modules.json (else
    1_Pooling), 'cls' / 'mean' / 'last', or None when there is no pooling configuration."""
    path = os.path.join(folder, "1_Pooling")
    mods = os.path.join(folder, "modules.json")
    if os.path.exists(mods):
        with open(mods) as f:
            for mod in json.load(f):
                if mod.get("type", "").endswith("Pooling"):
                    path = os.path.join(folder, mod.get("path", ""))
    cfg = os.path.join(path, "config.json")
    if not os.path.exists(cfg):
        return None
    with open(cfg) as f:
        c = json.load(f)
    modes = [name for key, name in (("pooling_mode_cls_token", "cls"), ("pooling_mode_mean_tokens", "mean"),
                                    ("pooling_mode_lasttoken", "last")) if c.get(key)]
    if len(modes) != 1:
        raise HFError("%s: expected exactly one supported pooling mode, got %s" % (cfg, modes))
    return modes[0]


def load_hf_embed(folder, float_linears=False):
    """A qwen3 / gemma3_text checkpoint as the SPEC section 8 graph. Projections are ternarized by
    SPEC section 3 (absmean), or kept in float with float_linears (a teacher). `<proj>.norm.weight`
    is the projection's BitLinear RMSNorm gain; Gemma 3's own RMSNorms compute x_n * (1 + w)."""
    ck = Checkpoint(folder)
    cfg = ck.config
    mt = embed_model_type(cfg)
    if mt is None:
        raise HFError("%s: not a qwen3 / gemma3_text checkpoint" % folder)
    arch = EMBED_MODEL_TYPES[mt][0]
    gemma = arch == "gemma3"
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    D = cfg.get("head_dim") or (256 if gemma else 128)
    swa = dict(swa_window=0)
    if gemma:
        lt = cfg.get("layer_types")
        swa = dict(swa_window=cfg.get("sliding_window") or 4096,
                   swa_pattern=cfg.get("sliding_window_pattern") or 6,
                   swa_layers=None if lt is None else [t == "sliding_attention" for t in lt],
                   rope_theta_swa=cfg.get("rope_local_base_freq", 10000.0))
    hp = M.EmbedHParams(arch, H, I, L, nh, nkv, D, eps=cfg.get("rms_norm_eps", 1e-6),
                        rope_theta=cfg.get("rope_theta", 1e6 if gemma else 1e4), n_vocab=cfg.get("vocab_size"),
                        pooling=st_pooling(folder), **swa)
    pre = "model." if ck.has("model.embed_tokens.weight") else ""
    shift = 1.0 if gemma else 0.0

    def norm(name):
        return ck.get(pre + name)[0].astype(np.float64) + shift

    def proj(base):
        w, dt = ck.get(base + ".weight")
        if dt not in ("F32", "F16", "BF16", "F64"):
            raise HFError("%s: dtype %s not supported for a projection" % (base, dt))
        if float_linears:
            return M.FloatLinear(base, w, dt)
        t, beta, how = M.ternarize_float(w)
        return M.BitLinear(base, t, beta, "%s/%s" % (dt, how))

    layers = []
    for i in range(L):
        p = "layers.%d." % i
        Ld = {"attn_norm": norm(p + "input_layernorm.weight"),
              "attn_q_norm": norm(p + "self_attn.q_norm.weight"), "attn_k_norm": norm(p + "self_attn.k_norm.weight")}
        if gemma:
            Ld["post_attention_norm"] = norm(p + "post_attention_layernorm.weight")
            Ld["ffn_norm"] = norm(p + "pre_feedforward_layernorm.weight")
            Ld["post_ffw_norm"] = norm(p + "post_feedforward_layernorm.weight")
        else:
            Ld["ffn_norm"] = norm(p + "post_attention_layernorm.weight")
        for hf_name, g in HF_TO_GGUF.items():
            base = pre + p + hf_name
            Ld[g] = proj(base)
            if ck.has(base + ".norm.weight"):
                Ld[g + "_norm_in"] = ck.get(base + ".norm.weight")[0].astype(np.float64)   # plain gain, no shift
        layers.append(Ld)
    m = M.EmbedModel(hp, ck.get(pre + "embed_tokens.weight")[0].astype(np.float64), norm("norm.weight"), layers)
    m.source = folder
    return m


# --------------------------------------------------------------------------- packing tool
LINEAR_SUFFIXES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                   "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def pack_checkpoint(src, dst, linear_class="autobitlinear", scale_dtype="BF16"):
    """Rewrite a float HF BitNet checkpoint in the packed 2B4T form (SPEC section 7): every linear
    becomes uint8 [ceil(out/4), in] + weight_scale [1] (beta for autobitlinear, 1/beta for bitlinear).
    Other tensors and files are copied. Test data only: the reference then reads both forms."""
    import shutil
    ck = Checkpoint(src)
    os.makedirs(dst, exist_ok=True)
    for fn in os.listdir(src):
        s = os.path.join(src, fn)
        if os.path.isfile(s) and not fn.endswith(".safetensors") and fn not in (
                "config.json", "model.safetensors.index.json"):
            shutil.copyfile(s, os.path.join(dst, fn))
    out = {}
    for name in sorted(ck.where):
        arr, dt = ck.get(name)
        base = name[:-len(".weight")] if name.endswith(".weight") else None
        if base and base.split(".", 3)[-1] in LINEAR_SUFFIXES:
            t, beta, _ = M.ternarize_float(arr)
            ws = beta if linear_class == "autobitlinear" else 1.0 / beta
            out[name] = (pack_2b4t(t), "U8")
            out[base + ".weight_scale"] = (np.array([ws]), scale_dtype)
        else:
            out[name] = (arr, dt)
    save_safetensors(os.path.join(dst, "model.safetensors"), out, {"format": "pt"})
    cfg = dict(ck.config)
    cfg["quantization_config"] = {"quant_method": "bitnet", "linear_class": linear_class,
                                  "quantization_mode": "offline"}
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="pack a float HF BitNet checkpoint into the 2B4T uint8 form")
    ap.add_argument("cmd", choices=["pack"])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--linear-class", choices=["autobitlinear", "bitlinear"], default="autobitlinear")
    ap.add_argument("--scale-dtype", choices=["BF16", "F32"], default="BF16")
    a = ap.parse_args()
    pack_checkpoint(a.src, a.dst, a.linear_class, a.scale_dtype)
