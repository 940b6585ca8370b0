"""The BitNet b1.58 forward pass of tern's SPEC.md sections 2-4, in float64 numpy.

Independent reference: written from SPEC.md only, shares no code with the C++ engine.

Conventions
  * Linear weights are [out, in] (numpy row-major), y = W x.
  * BitLinear keeps the ternary contract exactly: trits (int) and one scale beta per tensor;
    activations are quantized per token (row) with round-half-to-even (np.rint); the integer
    dot products are exact (see int_matmul); the scale beta / s is applied once at the end.
  * Everything else (RMSNorm, RoPE, softmax, SiLU/ReLU^2, output projection) is float64.
    `dtype=np.float32` runs the same program in float32 (only used to estimate how far a
    float32 implementation may land from the float64 goldens).
"""
import numpy as np

import formats
import gguf_io

ARCHS = ("bitnet-b1.58", "bitnet-25", "bitnet", "llama")
LLAMA3_VOCAB = 128256


class ModelError(Exception):
    pass


# --------------------------------------------------------------------------- hyper-parameters
class HParams:
    def __init__(self, arch, n_embd, n_ff, n_layer, n_head, n_head_kv, eps, rope_theta,
                 n_rot=None, n_vocab=None, n_ctx=None, ffn_act=None, rope_type=None, sub_norms=None):
        if arch not in ARCHS:
            raise ModelError("unsupported architecture %r (expected one of %s)" % (arch, ", ".join(ARCHS)))
        self.arch = arch
        self.n_embd = int(n_embd)
        self.n_ff = int(n_ff)
        self.n_layer = int(n_layer)
        self.n_head = int(n_head)
        self.n_head_kv = int(n_head_kv)
        if self.n_embd % self.n_head:
            raise ModelError("embedding_length %d not divisible by head_count %d" % (self.n_embd, self.n_head))
        if self.n_head % self.n_head_kv:
            raise ModelError("head_count %d not divisible by head_count_kv %d" % (self.n_head, self.n_head_kv))
        self.head_dim = self.n_embd // self.n_head
        self.eps = float(eps)
        self.rope_theta = float(rope_theta)
        self.n_rot = int(n_rot) if n_rot else self.head_dim
        if self.n_rot > self.head_dim or self.n_rot % 2:
            raise ModelError("rope.dimension_count %d invalid for head_dim %d" % (self.n_rot, self.head_dim))
        self.n_vocab = n_vocab
        self.n_ctx = n_ctx
        self.rope_type = rope_type or ("norm" if arch == "llama" else "neox")
        self.sub_norms = (arch != "llama") if sub_norms is None else bool(sub_norms)
        self.ffn_act = ffn_act or default_ffn_act(arch, n_vocab)
        if self.ffn_act not in ("relu2", "silu"):
            raise ModelError("ffn activation %r (expected relu2 or silu)" % self.ffn_act)

    def describe(self):
        return ("arch=%s H=%d I=%d L=%d nh=%d nkv=%d D=%d n_rot=%d eps=%g theta=%g V=%s rope=%s "
                "sub_norms=%s ffn_act=%s" % (self.arch, self.n_embd, self.n_ff, self.n_layer, self.n_head,
                                             self.n_head_kv, self.head_dim, self.n_rot, self.eps, self.rope_theta,
                                             self.n_vocab, self.rope_type, self.sub_norms, self.ffn_act))


def default_ffn_act(arch, n_vocab):
    """SPEC section 1: bitnet-b1.58 / bitnet-25 -> relu2; llama -> silu; `bitnet` is ambiguous:
    the LLaMA-3 vocabulary (128256 tokens) means 2B4T (relu2), anything else 1bitLLM (silu)."""
    if arch in ("bitnet-b1.58", "bitnet-25"):
        return "relu2"
    if arch == "llama":
        return "silu"
    return "relu2" if n_vocab == LLAMA3_VOCAB else "silu"


# --------------------------------------------------------------------------- BitLinear
def ternarize_float(w):
    """F32/F16/BF16 weights -> (trits int8, beta) per SPEC section 3.
    Already-ternary floats ({-a, 0, +a}, zeros meaning |w| < 1e-6): beta = a, trits = sign.
    Otherwise absmean: beta = max(mean|W|, 1e-5), trits = clamp(rint(W / beta), -1, 1)."""
    w = np.asarray(w, dtype=np.float64)
    aw = np.abs(w)
    a = float(aw.max()) if aw.size else 0.0
    small = aw < 1e-6
    if a >= 1e-6 and np.all(small | (aw == a)):
        t = np.where(small, 0, np.sign(w)).astype(np.int8)
        return t, a, "ternary-valued"
    beta = max(float(aw.mean()), 1e-5)
    t = np.clip(np.rint(w / beta), -1, 1).astype(np.int8)
    return t, beta, "absmean"


def int_matmul(q, t):
    """Exact integer product q [T, in] (int8 range) x t^T (t [out, in] in {-1,0,1}) -> int64 [T, out].
    Done in float64: every product and partial sum is an integer of magnitude <= 128 * in < 2**53,
    so the float64 result is exact whatever the summation order; checked below."""
    if q.shape[-1] * 128 >= 2 ** 53:
        raise ModelError("row too long for exact float64 integer accumulation")
    r = q.astype(np.float64) @ t.astype(np.float64).T
    ri = r.astype(np.int64)
    assert np.array_equal(ri.astype(np.float64), r)
    return ri


def quantize_activations(x, dtype=np.float64):
    """Per-row absmax int8: gamma = max(max|x|, 1e-5), s = 127/gamma, q = clamp(rint(x*s), -128, 127).
    Returns (q int64, s). np.rint rounds half to even."""
    x = np.asarray(x, dtype=dtype)
    gamma = np.maximum(np.abs(x).max(axis=-1, keepdims=True), dtype(1e-5))
    s = (dtype(127.0) / gamma).astype(dtype)
    q = np.clip(np.rint((x * s).astype(dtype)), -128, 127).astype(np.int64)
    return q, s


class BitLinear:
    def __init__(self, name, trits, beta, source=""):
        t = np.asarray(trits)
        if t.ndim != 2:
            raise ModelError("%s: BitLinear weight must be 2-D" % name)
        if t.min(initial=0) < -1 or t.max(initial=0) > 1:
            raise ModelError("%s: trits out of range" % name)
        self.name = name
        self.trits = t.astype(np.int8)
        self.beta = float(beta)
        self.source = source

    @property
    def shape(self):
        return self.trits.shape

    def apply_quantized(self, q, s, dtype=np.float64):
        """y = (sum_j q_j t_ij) * beta / s."""
        acc = int_matmul(q, self.trits)
        return (acc.astype(dtype) * dtype(self.beta) / s).astype(dtype)

    def __call__(self, x, dtype=np.float64):
        q, s = quantize_activations(x, dtype)
        return self.apply_quantized(q, s, dtype)


# --------------------------------------------------------------------------- float ops
def rmsnorm(x, w, eps, dtype=np.float64):
    x = np.asarray(x, dtype=dtype)
    ms = (x * x).mean(axis=-1, keepdims=True)
    return (x / np.sqrt(ms + dtype(eps)) * np.asarray(w, dtype=dtype)).astype(dtype)


def rope_tables(positions, n_rot, theta, dtype=np.float64):
    i = np.arange(n_rot // 2, dtype=np.float64)
    inv_freq = theta ** (-2.0 * i / n_rot)
    ang = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(ang).astype(dtype), np.sin(ang).astype(dtype)


def apply_rope(x, positions, n_rot, theta, rope_type, dtype=np.float64):
    """x [T, n_heads, D]; rotates the first n_rot dims of every head (n_rot = D normally).
    NEOX: pairs (i, i + n_rot/2); NORM: pairs (2i, 2i+1)."""
    x = np.array(x, dtype=dtype)
    cos, sin = rope_tables(positions, n_rot, theta, dtype)
    cos = cos[:, None, :]
    sin = sin[:, None, :]
    half = n_rot // 2
    if rope_type == "neox":
        a = x[..., :half].copy()
        b = x[..., half:n_rot].copy()
        x[..., :half] = a * cos - b * sin
        x[..., half:n_rot] = b * cos + a * sin
    elif rope_type == "norm":
        a = x[..., 0:n_rot:2].copy()
        b = x[..., 1:n_rot:2].copy()
        x[..., 0:n_rot:2] = a * cos - b * sin
        x[..., 1:n_rot:2] = b * cos + a * sin
    else:
        raise ModelError("rope type %r" % rope_type)
    return x


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def attention(q, k, v, n_head, n_head_kv, dtype=np.float64):
    """q [T, nh, D], k/v [T, nkv, D] (k already rotated); causal; query head j uses kv head
    j // (nh / nkv). Returns [T, nh * D]."""
    T, _, D = q.shape
    group = n_head // n_head_kv
    out = np.zeros((T, n_head, D), dtype=dtype)
    scale = dtype(1.0 / np.sqrt(D))
    mask = np.tril(np.ones((T, T), dtype=bool))
    for j in range(n_head):
        g = j // group
        sc = (q[:, j, :] @ k[:, g, :].T) * scale           # [T(query), T(key)]
        sc = np.where(mask, sc, -np.inf)
        out[:, j, :] = softmax(sc, axis=-1) @ v[:, g, :]
    return out.reshape(T, n_head * D)


def relu2(z):
    r = np.maximum(z, 0)
    return r * r


def silu(z):
    return z / (1 + np.exp(-z))


# --------------------------------------------------------------------------- model
LAYER_LINEARS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
LAYER_NORMS = ("attn_norm", "ffn_norm")
LAYER_SUB_NORMS = ("attn_sub_norm", "ffn_sub_norm")


class Model:
    """hp: HParams; tok_embd [V, H] float64; output [V, H] float64 (None = tied to tok_embd);
    output_norm [H]; layers: list of dicts with BitLinear entries LAYER_LINEARS and float
    vectors LAYER_NORMS (+ LAYER_SUB_NORMS when hp.sub_norms)."""

    def __init__(self, hp, tok_embd, output_norm, layers, output=None):
        self.hp = hp
        self.tok_embd = np.asarray(tok_embd, dtype=np.float64)
        self.output = None if output is None else np.asarray(output, dtype=np.float64)
        self.output_norm = np.asarray(output_norm, dtype=np.float64)
        self.layers = layers
        self.check()

    def check(self):
        hp = self.hp
        H, I, D = hp.n_embd, hp.n_ff, hp.head_dim
        V = self.tok_embd.shape[0]
        if hp.n_vocab is None:
            hp.n_vocab = V
        if self.tok_embd.shape != (hp.n_vocab, H):
            raise ModelError("token_embd shape %s, expected %s" % (self.tok_embd.shape, (hp.n_vocab, H)))
        if self.output is not None and self.output.shape != (hp.n_vocab, H):
            raise ModelError("output shape %s, expected %s" % (self.output.shape, (hp.n_vocab, H)))
        if len(self.layers) != hp.n_layer:
            raise ModelError("%d layers, block_count %d" % (len(self.layers), hp.n_layer))
        want = {"attn_q": (hp.n_head * D, H), "attn_k": (hp.n_head_kv * D, H), "attn_v": (hp.n_head_kv * D, H),
                "attn_output": (H, hp.n_head * D), "ffn_gate": (I, H), "ffn_up": (I, H), "ffn_down": (H, I)}
        vec = {"attn_norm": H, "ffn_norm": H, "attn_sub_norm": hp.n_head * D, "ffn_sub_norm": I}
        for li, layer in enumerate(self.layers):
            for k, shp in want.items():
                if layer[k].shape != shp:
                    raise ModelError("blk.%d.%s shape %s, expected %s" % (li, k, layer[k].shape, shp))
            names = LAYER_NORMS + (LAYER_SUB_NORMS if hp.sub_norms else ())
            for k in names:
                if layer.get(k) is None:
                    raise ModelError("blk.%d.%s missing" % (li, k))
                if np.shape(layer[k]) != (vec[k],):
                    raise ModelError("blk.%d.%s shape %s, expected (%d,)" % (li, k, np.shape(layer[k]), vec[k]))

    def forward(self, tokens, dtype=np.float64, trace=None):
        """tokens: list of ids (positions 0..T-1). Returns logits [T, V] in `dtype`.
        trace: optional dict; filled with the residual stream after each block ("blk.N.out") and,
        under "margins", the smallest distance (in int8 units) of any x*s to a rounding boundary
        k + 0.5, for each activation quantization."""
        hp = self.hp
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or tokens.size == 0:
            raise ModelError("need a non-empty 1-D token list")
        if tokens.min() < 0 or tokens.max() >= hp.n_vocab:
            raise ModelError("token id out of range [0, %d)" % hp.n_vocab)
        T = tokens.size
        D = hp.head_dim
        pos = np.arange(T)
        act = relu2 if hp.ffn_act == "relu2" else silu
        margins = None if trace is None else trace.setdefault("margins", [])

        def quant(v):
            q, s = quantize_activations(v, dtype)
            if margins is not None:
                margins.append(float(quant_margin(v, s)))
            return q, s

        x = self.tok_embd[tokens].astype(dtype)                  # [T, H]
        for li, L in enumerate(self.layers):
            h = rmsnorm(x, L["attn_norm"], hp.eps, dtype)
            qa, sa = quant(h)                                    # shared by q, k, v
            q = L["attn_q"].apply_quantized(qa, sa, dtype).reshape(T, hp.n_head, D)
            k = L["attn_k"].apply_quantized(qa, sa, dtype).reshape(T, hp.n_head_kv, D)
            v = L["attn_v"].apply_quantized(qa, sa, dtype).reshape(T, hp.n_head_kv, D)
            q = apply_rope(q, pos, hp.n_rot, hp.rope_theta, hp.rope_type, dtype)
            k = apply_rope(k, pos, hp.n_rot, hp.rope_theta, hp.rope_type, dtype)
            a = attention(q, k, v, hp.n_head, hp.n_head_kv, dtype)   # [T, nh * D]
            if hp.sub_norms:
                a = rmsnorm(a, L["attn_sub_norm"], hp.eps, dtype)
            qo, so = quant(a)
            x = (x + L["attn_output"].apply_quantized(qo, so, dtype)).astype(dtype)
            h = rmsnorm(x, L["ffn_norm"], hp.eps, dtype)
            qf, sf = quant(h)                                    # shared by gate, up
            g = L["ffn_gate"].apply_quantized(qf, sf, dtype)     # [T, I]
            u = L["ffn_up"].apply_quantized(qf, sf, dtype)
            f = (act(g) * u).astype(dtype)
            if hp.sub_norms:
                f = rmsnorm(f, L["ffn_sub_norm"], hp.eps, dtype)
            qd, sd = quant(f)
            x = (x + L["ffn_down"].apply_quantized(qd, sd, dtype)).astype(dtype)
            if trace is not None:
                trace["blk.%d.out" % li] = x.copy()
        xn = rmsnorm(x, self.output_norm, hp.eps, dtype)
        w_out = self.tok_embd if self.output is None else self.output
        return (xn @ w_out.astype(dtype).T).astype(dtype)


def quant_margin(x, s):
    """Smallest distance of x*s to a rounding boundary (k + 0.5), in int8 units."""
    v = np.asarray(x, dtype=np.float64) * np.asarray(s, dtype=np.float64)
    return (0.5 - np.abs(v - np.rint(v))).min()


# --------------------------------------------------------------------------- GGUF loading
def _scalar_kv(g, key, default=None, required=False):
    if not g.has(key):
        if required:
            raise ModelError("%s: metadata key %s missing" % (g.path, key))
        return default
    v = g.kv(key)
    if isinstance(v, list):   # per-layer arrays: accept only when all equal
        if not v or any(x != v[0] for x in v):
            raise ModelError("%s: %s varies per layer; not supported by the reference" % (g.path, key))
        v = v[0]
    return v


def load_linear(ti, name):
    n = ti.n_elements
    shape = ti.shape
    if len(shape) != 2:
        raise ModelError("%s: expected a 2-D tensor, got dims %s" % (name, ti.dims))
    if ti.type in formats.TERNARY_TYPES:
        t, sc = formats.decode_ternary(ti.type, ti.data, n)
        if ti.type == formats.I2_S:
            beta = sc
        else:
            sc = np.asarray(sc)
            nz = sc[sc != 0]
            if nz.size and np.any(nz != nz[0]):
                raise ModelError("%s: %s blocks carry different scales (%s..%s); the per-tensor contract of "
                                 "SPEC section 3 needs one" % (name, ti.type_name, nz.min(), nz.max()))
            beta = float(nz[0]) if nz.size else 0.0
            t = t.reshape(-1, formats.QK_K).copy()
            t[sc == 0] = 0              # a zero-scale block dequantizes to zeros
        return BitLinear(name, t.reshape(shape), beta, ti.type_name)
    w = formats.decode_float(ti.type, ti.data, n).reshape(shape)
    t, beta, how = ternarize_float(w)
    return BitLinear(name, t, beta, "%s/%s" % (ti.type_name, how))


def load_float(ti):
    return formats.decode_float(ti.type, ti.data, ti.n_elements).reshape(ti.shape)


def need_tensor(tensors, path, name):
    if name not in tensors:
        raise ModelError("%s: tensor %s missing" % (path, name))
    return tensors[name]


def load_gguf(path, ffn_act=None):
    """Load a GGUF model. ffn_act: None (from metadata key tern.test.ffn_act, else SPEC default),
    'relu2' or 'silu'."""
    g = gguf_io.read(path)
    arch = g.kv("general.architecture")
    if arch is None:
        raise ModelError("%s: general.architecture missing" % path)
    if arch not in ARCHS:
        raise ModelError("%s: architecture %r not supported" % (path, arch))
    p = arch + "."
    n_embd = _scalar_kv(g, p + "embedding_length", required=True)
    n_head = _scalar_kv(g, p + "attention.head_count", required=True)
    tok = g.tensors.get("token_embd.weight")
    if tok is None:
        raise ModelError("%s: token_embd.weight missing" % path)
    n_vocab = _scalar_kv(g, p + "vocab_size")
    if n_vocab is None:
        toks = g.kv("tokenizer.ggml.tokens")
        n_vocab = len(toks) if toks is not None else tok.shape[0]
    act = ffn_act or g.kv("tern.test.ffn_act")
    hp = HParams(arch,
                 n_embd=n_embd,
                 n_ff=_scalar_kv(g, p + "feed_forward_length", required=True),
                 n_layer=_scalar_kv(g, p + "block_count", required=True),
                 n_head=n_head,
                 n_head_kv=_scalar_kv(g, p + "attention.head_count_kv", default=n_head),
                 eps=_scalar_kv(g, p + "attention.layer_norm_rms_epsilon", required=True),
                 rope_theta=_scalar_kv(g, p + "rope.freq_base", default=10000.0),
                 n_rot=_scalar_kv(g, p + "rope.dimension_count"),
                 n_vocab=int(n_vocab),
                 n_ctx=_scalar_kv(g, p + "context_length"),
                 ffn_act=act)
    T = g.tensors

    def need(name):
        return need_tensor(T, path, name)

    layers = []
    for i in range(hp.n_layer):
        b = "blk.%d." % i
        L = {k: load_linear(need(b + k + ".weight"), b + k) for k in LAYER_LINEARS}
        for k in LAYER_NORMS:
            L[k] = load_float(need(b + k + ".weight"))
        if hp.sub_norms:
            for k in LAYER_SUB_NORMS:
                L[k] = load_float(need(b + k + ".weight"))
        layers.append(L)
    out = T.get("output.weight")
    m = Model(hp, load_float(tok), load_float(need("output_norm.weight")), layers,
              output=None if out is None else load_float(out))
    m.source = path
    m.gguf = g
    return m


# --------------------------------------------------------------------------- embedding models (SPEC section 8)
EMBED_ARCHS = ("qwen3", "gemma3")
POOLING = ("none", "mean", "cls", "last")      # {arch}.pooling_type 0..3


class FloatLinear:
    """A projection kept in float (the F16/BF16/F32 "teacher" files): y = x W^T, no quantization."""

    def __init__(self, name, w, source=""):
        self.name = name
        self.w = np.asarray(w, dtype=np.float64)
        self.source = source
        self.beta = float("nan")

    @property
    def shape(self):
        return self.w.shape

    def __call__(self, x, dtype=np.float64):
        return (np.asarray(x, dtype=dtype) @ self.w.astype(dtype).T).astype(dtype)


def gelu_tanh(z):
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))


class EmbedHParams:
    """qwen3 / gemma3: head_dim from attention.key_length; gemma3 adds sqrt(H) embedding scale,
    post norms, GELU-tanh and sliding-window local layers with their own RoPE base."""

    def __init__(self, arch, n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim, eps, rope_theta,
                 n_vocab=None, swa_window=0, swa_pattern=6, rope_theta_swa=10000.0, pooling=None, swa_layers=None):
        if arch not in EMBED_ARCHS:
            raise ModelError("unsupported embedding architecture %r" % arch)
        self.arch = arch
        self.n_embd, self.n_ff, self.n_layer = int(n_embd), int(n_ff), int(n_layer)
        self.n_head, self.n_head_kv, self.head_dim = int(n_head), int(n_head_kv), int(head_dim)
        if self.n_head % self.n_head_kv or self.head_dim % 2:
            raise ModelError("bad head counts / head_dim")
        self.eps = float(eps)
        self.rope_theta = float(rope_theta)
        self.rope_theta_swa = float(rope_theta_swa)
        self.n_vocab = n_vocab
        self.gemma = arch == "gemma3"
        self.swa_window = int(swa_window or 0)
        self.swa_pattern = int(swa_pattern)
        self.swa_layers = None if swa_layers is None else [bool(b) for b in swa_layers]
        if self.swa_layers is not None and len(self.swa_layers) != self.n_layer:
            raise ModelError("%d sliding-window flags for %d layers" % (len(self.swa_layers), self.n_layer))
        self.pooling = pooling

    def local(self, layer):
        """A sliding-window layer: every swa_pattern-th layer (l % p == p - 1) is global, or as the
        per-layer flags say (True: local)."""
        if self.swa_layers is not None:
            return self.swa_window > 0 and self.swa_layers[layer]
        return self.swa_window > 0 and layer % self.swa_pattern != self.swa_pattern - 1

    def describe(self):
        return ("arch=%s H=%d I=%d L=%d nh=%d nkv=%d D=%d eps=%g theta=%g swa=%d/%d theta_swa=%g V=%s pooling=%s"
                % (self.arch, self.n_embd, self.n_ff, self.n_layer, self.n_head, self.n_head_kv, self.head_dim,
                   self.eps, self.rope_theta, self.swa_window, self.swa_pattern, self.rope_theta_swa, self.n_vocab,
                   self.pooling))


EMBED_LINEARS = LAYER_LINEARS
EMBED_NORMS = ("attn_norm", "ffn_norm", "attn_q_norm", "attn_k_norm")
GEMMA_NORMS = ("post_attention_norm", "post_ffw_norm")


class EmbedModel:
    """layers: dicts with the linears of EMBED_LINEARS (BitLinear or FloatLinear), optional
    '<linear>_norm_in' gains, and the norms of EMBED_NORMS (+ GEMMA_NORMS for gemma3)."""

    def __init__(self, hp, tok_embd, output_norm, layers):
        self.hp = hp
        self.tok_embd = np.asarray(tok_embd, dtype=np.float64)
        self.output_norm = np.asarray(output_norm, dtype=np.float64)
        self.layers = layers
        if hp.n_vocab is None:
            hp.n_vocab = self.tok_embd.shape[0]

    def hidden(self, tokens, dtype=np.float64, trace=None):
        """The output-normed hidden rows [T, H] of one input fed from position 0 (what pooling reads).
        trace["margins"]: the smallest distance to a rounding boundary of each activation quantization."""
        hp = self.hp
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or tokens.size == 0 or tokens.min() < 0 or tokens.max() >= hp.n_vocab:
            raise ModelError("need a non-empty list of token ids in [0, %d)" % hp.n_vocab)
        T, D, H = tokens.size, hp.head_dim, hp.n_embd
        pos = np.arange(T)
        margins = None if trace is None else trace.setdefault("margins", [])

        def proj(L, name, h):
            lin = L[name]
            g = L.get(name + "_norm_in")
            if g is not None:
                h = rmsnorm(h, g, hp.eps, dtype)
            if isinstance(lin, FloatLinear):
                return lin(h, dtype)
            q, s = quantize_activations(h, dtype)
            if margins is not None:
                margins.append(float(quant_margin(h, s)))
            return lin.apply_quantized(q, s, dtype)

        def head_norm(v, w, n):
            return rmsnorm(v.reshape(T, n, D), w, hp.eps, dtype)

        x = self.tok_embd[tokens].astype(dtype)
        if hp.gemma:
            x = x * dtype(np.sqrt(H))
        for li, L in enumerate(self.layers):
            local = hp.local(li)
            theta = hp.rope_theta_swa if local else hp.rope_theta
            h = rmsnorm(x, L["attn_norm"], hp.eps, dtype)
            q = head_norm(proj(L, "attn_q", h), L["attn_q_norm"], hp.n_head)
            k = head_norm(proj(L, "attn_k", h), L["attn_k_norm"], hp.n_head_kv)
            v = proj(L, "attn_v", h).reshape(T, hp.n_head_kv, D)
            q = apply_rope(q, pos, D, theta, "neox", dtype)
            k = apply_rope(k, pos, D, theta, "neox", dtype)
            a = windowed_attention(q, k, v, hp.n_head, hp.n_head_kv, hp.swa_window if local else 0, dtype)
            o = proj(L, "attn_output", a)
            if hp.gemma:
                o = rmsnorm(o, L["post_attention_norm"], hp.eps, dtype)
            x = (x + o).astype(dtype)
            h = rmsnorm(x, L["ffn_norm"], hp.eps, dtype)
            g = proj(L, "ffn_gate", h)
            u = proj(L, "ffn_up", h)
            f = ((gelu_tanh(g) if hp.gemma else silu(g)) * u).astype(dtype)
            d = proj(L, "ffn_down", f)
            if hp.gemma:
                d = rmsnorm(d, L["post_ffw_norm"], hp.eps, dtype)
            x = (x + d).astype(dtype)
        return rmsnorm(x, self.output_norm, hp.eps, dtype)


def windowed_attention(q, k, v, n_head, n_head_kv, window, dtype=np.float64):
    """Causal attention (scale 1/sqrt(D)); window > 0 also masks keys with q_pos - k_pos >= window."""
    T, _, D = q.shape
    group = n_head // n_head_kv
    out = np.zeros((T, n_head, D), dtype=dtype)
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    mask = j <= i
    if window > 0:
        mask &= (i - j) < window
    for h in range(n_head):
        g = h // group
        sc = (q[:, h, :] @ k[:, g, :].T) * dtype(1.0 / np.sqrt(D))
        out[:, h, :] = softmax(np.where(mask, sc, -np.inf), axis=-1) @ v[:, g, :]
    return out.reshape(T, n_head * D)


def pool(rows, pooling):
    """rows [T, H] -> [H] (mean / cls / last) or [T, H] (none)."""
    if pooling == "none":
        return rows
    if pooling == "mean":
        return rows.mean(axis=0)
    if pooling == "cls":
        return rows[0]
    if pooling == "last":
        return rows[-1]
    raise ModelError("pooling %r" % pooling)


def normalize(v, norm):
    """llama-embedding's --embd-normalize: -1 none, 0 max-abs to 32760, 1 taxicab, 2 euclidean, >2 p-norm.
    Applied to the last axis (each row of a [T, H] array)."""
    v = np.asarray(v, dtype=np.float64)
    a = np.abs(v)
    if norm < 0:
        s = np.ones(v.shape[:-1] + (1,))
    elif norm == 0:
        s = a.max(axis=-1, keepdims=True) / 32760.0
    else:
        s = (a ** norm).sum(axis=-1, keepdims=True) ** (1.0 / norm)
    return np.where(s > 0, v / np.where(s > 0, s, 1), 0.0)


def load_embed_linear(ti, name):
    if ti.type in formats.TERNARY_TYPES:
        return load_linear(ti, name)
    return FloatLinear(name, formats.decode_float(ti.type, ti.data, ti.n_elements).reshape(ti.shape), ti.type_name)


def load_embed_gguf(path):
    g = gguf_io.read(path)
    arch = g.kv("general.architecture")
    if arch not in EMBED_ARCHS:
        raise ModelError("%s: architecture %r is not an embedding architecture" % (path, arch))
    p = arch + "."
    n_embd = _scalar_kv(g, p + "embedding_length", required=True)
    n_head = _scalar_kv(g, p + "attention.head_count", required=True)
    pt = _scalar_kv(g, p + "pooling_type")
    pattern = g.kv(p + "attention.sliding_window_pattern") if g.has(p + "attention.sliding_window_pattern") else 6
    swa_layers = pattern if isinstance(pattern, list) else None     # one flag per layer (True: local)
    hp = EmbedHParams(arch, n_embd=n_embd,
                      n_ff=_scalar_kv(g, p + "feed_forward_length", required=True),
                      n_layer=_scalar_kv(g, p + "block_count", required=True),
                      n_head=n_head,
                      n_head_kv=_scalar_kv(g, p + "attention.head_count_kv", default=n_head),
                      head_dim=_scalar_kv(g, p + "attention.key_length", default=n_embd // n_head),
                      eps=_scalar_kv(g, p + "attention.layer_norm_rms_epsilon", required=True),
                      rope_theta=_scalar_kv(g, p + "rope.freq_base", default=10000.0),
                      swa_window=_scalar_kv(g, p + "attention.sliding_window", default=0),
                      swa_pattern=6 if swa_layers is not None else pattern, swa_layers=swa_layers,
                      rope_theta_swa=_scalar_kv(g, p + "rope.freq_base_swa", default=10000.0),
                      pooling=None if pt is None else POOLING[pt])
    T = g.tensors
    if "output.weight" in T:
        raise ModelError("%s: an embedding model has no output.weight" % path)

    def need(name):
        return need_tensor(T, path, name)

    layers = []
    for i in range(hp.n_layer):
        b = "blk.%d." % i
        L = {k: load_embed_linear(need(b + k + ".weight"), b + k) for k in EMBED_LINEARS}
        for k in EMBED_LINEARS:
            if b + k + "_norm_in.weight" in T:
                L[k + "_norm_in"] = load_float(T[b + k + "_norm_in.weight"])
        for k in EMBED_NORMS + (GEMMA_NORMS if hp.gemma else ()):
            L[k] = load_float(need(b + k + ".weight"))
        layers.append(L)
    m = EmbedModel(hp, load_float(need("token_embd.weight")), load_float(need("output_norm.weight")), layers)
    m.source = path
    m.gguf = g
    return m
