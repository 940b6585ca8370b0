"""Encode / decode of the weight formats tern reads (SPEC.md section 5), in numpy.

Ternary formats decode to (trits, scale) so the forward pass can keep the integer contract:
    I2_S  (36): one f32 scale for the whole tensor
    TQ2_0 (35), TQ1_0 (34): one fp16 scale per 256-element block (ggml's layout)
Float formats decode to float64 arrays: F32 (0), F16 (1), BF16 (30), Q8_0 (8).

All arrays here are flat, in the tensor's row-major element order (GGUF dims innermost first,
so element (r, c) of an [out, in] matrix is flat index r*in + c).
Shares no code with the C++ implementation.
"""
import numpy as np

F32, F16, Q8_0, BF16, TQ1_0, TQ2_0, I2_S = 0, 1, 8, 30, 34, 35, 36
TERNARY_TYPES = (TQ1_0, TQ2_0, I2_S)

QK_K = 256
QK8_0 = 32


class FormatError(Exception):
    pass


def _u8(raw):
    return np.frombuffer(bytes(raw) if not isinstance(raw, np.ndarray) else raw.tobytes(), dtype=np.uint8)


def _trits(w):
    w = np.asarray(w).reshape(-1)
    t = w.astype(np.int64)
    if not np.array_equal(t, w) or t.min(initial=0) < -1 or t.max(initial=0) > 1:
        raise FormatError("ternary encoder needs values in {-1, 0, +1}")
    return t


# --------------------------------------------------------------------------- plain floats
def encode_f32(x):
    return np.asarray(x, dtype="<f4").tobytes()


def decode_f32(raw, n):
    a = np.frombuffer(_u8(raw).tobytes(), dtype="<f4")
    if a.size != n:
        raise FormatError("F32: %d elements, expected %d" % (a.size, n))
    return a.astype(np.float64)


def encode_f16(x):
    return np.asarray(x, dtype=np.float64).astype("<f2").tobytes()   # round to nearest even


def decode_f16(raw, n):
    a = np.frombuffer(_u8(raw).tobytes(), dtype="<f2")
    if a.size != n:
        raise FormatError("F16: %d elements, expected %d" % (a.size, n))
    return a.astype(np.float64)


def f32_to_bf16_bits(x):
    """float32 -> bf16 bits, round to nearest even (NaN kept quiet)."""
    u = np.asarray(x, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    r = ((u >> 16) & 1) + 0x7FFF
    b = ((u + r) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32).reshape(-1))
    b[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return b


def encode_bf16(x):
    return f32_to_bf16_bits(x).astype("<u2").tobytes()


def decode_bf16(raw, n):
    b = np.frombuffer(_u8(raw).tobytes(), dtype="<u2")
    if b.size != n:
        raise FormatError("BF16: %d elements, expected %d" % (b.size, n))
    return (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def round_bf16(x):
    """Value of x after a round trip through bf16 (float64 result)."""
    x = np.asarray(x, dtype=np.float32)
    return decode_bf16(encode_bf16(x), x.size).reshape(x.shape)


# --------------------------------------------------------------------------- Q8_0
def encode_q8_0(x):
    """ggml's quantize_row_q8_0_ref: per 32 block d = amax/127 (stored fp16),
    q = round-half-away(x / d) computed in float32."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, QK8_0)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (x * idv[:, None]).astype(np.float32)
    q = (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).astype(np.int64)   # roundf
    q = np.clip(q, -128, 127).astype(np.int8)
    out = np.zeros((x.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def decode_q8_0(raw, n):
    if n % QK8_0:
        raise FormatError("Q8_0: %d elements not a multiple of 32" % n)
    b = _u8(raw)
    if b.size != n // QK8_0 * 34:
        raise FormatError("Q8_0: %d bytes, expected %d" % (b.size, n // QK8_0 * 34))
    b = b.reshape(-1, 34)
    d = b[:, 0:2].copy().view("<f2").astype(np.float64).reshape(-1)
    q = b[:, 2:].copy().view(np.int8).astype(np.float64)
    return (q * d[:, None]).reshape(-1)


# --------------------------------------------------------------------------- I2_S
def encode_i2s(w, beta):
    """w: ternary values (any shape, row-major flat order used), beta: float32 scale.
    Flat element b*128 + g*32 + p goes to byte b*32 + p, bits (7-2g, 6-2g); code = w + 1.
    Then the f32 scale and 28 zero bytes."""
    t = _trits(w)
    n = t.size
    if n % 128:
        raise FormatError("I2_S encoder needs a multiple of 128 elements (got %d)" % n)
    c = (t + 1).astype(np.uint8).reshape(-1, 4, 32)           # [block, g, p]
    byte = np.zeros((c.shape[0], 32), dtype=np.uint8)
    for g in range(4):
        byte |= (c[:, g, :] << (6 - 2 * g)).astype(np.uint8)
    return byte.tobytes() + np.float32(beta).astype("<f4").tobytes() + b"\0" * 28


def decode_i2s(raw, n):
    """-> (trits int8 [n], beta float64)."""
    b = _u8(raw)
    if n % 128:
        raise FormatError("I2_S: %d elements not a multiple of 128" % n)
    if b.size != n // 4 + 32:
        raise FormatError("I2_S: %d bytes, expected %d" % (b.size, n // 4 + 32))
    codes = b[: n // 4].reshape(-1, 32)
    c = np.empty((codes.shape[0], 4, 32), dtype=np.int8)
    for g in range(4):
        c[:, g, :] = (codes >> (6 - 2 * g)) & 3
    if (c == 3).any():
        raise FormatError("I2_S: code 3 (unused) present")
    beta = float(np.frombuffer(b[n // 4: n // 4 + 4].tobytes(), dtype="<f4")[0])
    return (c.reshape(-1) - 1).astype(np.int8), beta


# --------------------------------------------------------------------------- TQ2_0
def _block_scales(t, beta):
    """fp16 d per 256-block as ggml's quantizer would store it for W = t*beta:
    d = amax of the block = beta if any nonzero, else 0."""
    nz = (t.reshape(-1, QK_K) != 0).any(axis=1)
    return np.where(nz, np.float16(beta), np.float16(0)).astype("<f2")


def encode_tq2_0(w, beta):
    """Blocks of 256: qs[64], fp16 d. Element j*4 + l*32 + m (j in {0,32}, l<4, m<32) is
    bits 2l..2l+1 of qs[j+m], code = w + 1."""
    t = _trits(w)
    if t.size % QK_K:
        raise FormatError("TQ2_0 needs a multiple of 256 elements")
    nb = t.size // QK_K
    c = (t + 1).astype(np.uint8).reshape(nb, 2, 4, 32)       # [block, half j/32, l, m]
    qs = np.zeros((nb, 2, 32), dtype=np.uint8)
    for l in range(4):
        qs |= (c[:, :, l, :] << (2 * l)).astype(np.uint8)
    d = _block_scales(t, beta)
    out = np.zeros((nb, 66), dtype=np.uint8)
    out[:, :64] = qs.reshape(nb, 64)
    out[:, 64:66] = d.view(np.uint8).reshape(nb, 2)
    return out.tobytes()


def decode_tq2_0(raw, n):
    """-> (trits int8 [n], d float64 [n/256])."""
    if n % QK_K:
        raise FormatError("TQ2_0: %d elements not a multiple of 256" % n)
    b = _u8(raw)
    nb = n // QK_K
    if b.size != nb * 66:
        raise FormatError("TQ2_0: %d bytes, expected %d" % (b.size, nb * 66))
    b = b.reshape(nb, 66)
    qs = b[:, :64].reshape(nb, 2, 32)
    c = np.empty((nb, 2, 4, 32), dtype=np.int8)
    for l in range(4):
        c[:, :, l, :] = (qs >> (2 * l)) & 3
    d = b[:, 64:66].copy().view("<f2").astype(np.float64).reshape(nb)
    # code 3 decodes to +2 in ggml's dequantizer; it never appears in valid ternary data
    if (c == 3).any():
        raise FormatError("TQ2_0: code 3 present (not ternary)")
    return (c.reshape(-1) - 1).astype(np.int8), d


# --------------------------------------------------------------------------- TQ1_0
_POW3 = np.array([1, 3, 9, 27, 81, 243], dtype=np.int64)


def _pack_base3(digits):
    """digits [..., 5] in {0,1,2}, first most significant -> byte = ceil(v * 256 / 243)."""
    v = np.zeros(digits.shape[:-1], dtype=np.int64)
    for k in range(digits.shape[-1]):
        v = v * 3 + digits[..., k]
    return ((v * 256 + 242) // 243).astype(np.uint8)


def _unpack_base3(byte, k):
    """k-th digit (0 = most significant) of a TQ1_0 byte: ((byte * 3^k mod 256) * 3) >> 8."""
    q = (byte.astype(np.int64) * _POW3[k]) & 0xFF
    return (q * 3) >> 8


def encode_tq1_0(w, beta):
    """Blocks of 256: qs[48], qh[4], fp16 d (54 bytes).
    qs[m], m<32: elements n*32 + m, n<5 (n=0 the most significant base-3 digit);
    qs[32+m], m<16: elements 160 + n*16 + m, n<5;
    qh[j], j<4: elements 240 + n*4 + j, n<4, and a fifth digit 0.
    byte = ceil(value * 256 / 243) so that the digit k is ((byte*3^k) & 255) * 3 >> 8."""
    t = _trits(w)
    if t.size % QK_K:
        raise FormatError("TQ1_0 needs a multiple of 256 elements")
    nb = t.size // QK_K
    c = (t + 1).reshape(nb, QK_K)
    a = c[:, :160].reshape(nb, 5, 32).transpose(0, 2, 1)        # [nb, m, n]
    bq = c[:, 160:240].reshape(nb, 5, 16).transpose(0, 2, 1)
    h = c[:, 240:256].reshape(nb, 4, 4).transpose(0, 2, 1)       # [nb, j, n]
    h = np.concatenate([h, np.zeros((nb, 4, 1), dtype=h.dtype)], axis=2)
    out = np.zeros((nb, 54), dtype=np.uint8)
    out[:, 0:32] = _pack_base3(a)
    out[:, 32:48] = _pack_base3(bq)
    out[:, 48:52] = _pack_base3(h)
    out[:, 52:54] = _block_scales(t, beta).view(np.uint8).reshape(nb, 2)
    return out.tobytes()


def decode_tq1_0(raw, n):
    """-> (trits int8 [n], d float64 [n/256])."""
    if n % QK_K:
        raise FormatError("TQ1_0: %d elements not a multiple of 256" % n)
    b = _u8(raw)
    nb = n // QK_K
    if b.size != nb * 54:
        raise FormatError("TQ1_0: %d bytes, expected %d" % (b.size, nb * 54))
    b = b.reshape(nb, 54)
    out = np.empty((nb, QK_K), dtype=np.int64)
    for k in range(5):
        out[:, k * 32:(k + 1) * 32] = _unpack_base3(b[:, 0:32], k)
        out[:, 160 + k * 16:160 + (k + 1) * 16] = _unpack_base3(b[:, 32:48], k)
    for k in range(4):
        out[:, 240 + k * 4:240 + (k + 1) * 4] = _unpack_base3(b[:, 48:52], k)
    d = b[:, 52:54].copy().view("<f2").astype(np.float64).reshape(nb)
    return (out.reshape(-1) - 1).astype(np.int8), d


# --------------------------------------------------------------------------- generic
def decode_float(type_id, raw, n):
    if type_id == F32:
        return decode_f32(raw, n)
    if type_id == F16:
        return decode_f16(raw, n)
    if type_id == BF16:
        return decode_bf16(raw, n)
    if type_id == Q8_0:
        return decode_q8_0(raw, n)
    if type_id in TERNARY_TYPES:
        t, s = decode_ternary(type_id, raw, n)
        if np.ndim(s) == 0:
            return t.astype(np.float64) * s
        return (t.reshape(-1, QK_K).astype(np.float64) * np.asarray(s)[:, None]).reshape(-1)
    raise FormatError("type id %d: decoding not supported by the reference" % type_id)


def decode_ternary(type_id, raw, n):
    """-> (trits int8 [n], scale): scale is a float for I2_S, a per-256-block array for TQ*."""
    if type_id == I2_S:
        return decode_i2s(raw, n)
    if type_id == TQ2_0:
        return decode_tq2_0(raw, n)
    if type_id == TQ1_0:
        return decode_tq1_0(raw, n)
    raise FormatError("type id %d is not a ternary format" % type_id)


def encode(type_id, values=None, trits=None, beta=None):
    """Encode a tensor: float formats take `values`, ternary ones `trits` and `beta`."""
    if type_id == F32:
        return encode_f32(values)
    if type_id == F16:
        return encode_f16(values)
    if type_id == BF16:
        return encode_bf16(values)
    if type_id == Q8_0:
        return encode_q8_0(values)
    if type_id == I2_S:
        return encode_i2s(trits, beta)
    if type_id == TQ2_0:
        return encode_tq2_0(trits, beta)
    if type_id == TQ1_0:
        return encode_tq1_0(trits, beta)
    raise FormatError("type id %d: encoding not supported" % type_id)
