"""Self-checks of the reference implementation.

  cd tools/reference && /usr/bin/python3 -m unittest -v test_reference
  /usr/bin/python3 -m unittest discover -s tools/reference -v
"""
import json
import os
import struct
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import formats as F  # noqa: E402
import gguf_io as G  # noqa: E402
import hf  # noqa: E402
import model as M  # noqa: E402

MODELS_DIR = os.path.join(HERE, "..", "..", "tests", "data", "models")


def put(path, data):
    with open(path, "wb") as f:
        f.write(bytes(data))


def rand_trits(rng, n):
    return rng.integers(-1, 2, size=n).astype(np.int8)


# --------------------------------------------------------------------------- GGUF
class TestGGUF(unittest.TestCase):
    def test_round_trip_all_types(self):
        rng = np.random.default_rng(1)
        md = {
            "general.architecture": G.string("llama"),
            "k.u8": G.u8(250), "k.i8": G.i8(-7), "k.u16": G.u16(65535), "k.i16": G.i16(-32768),
            "k.u32": G.u32(2**32 - 1), "k.i32": G.i32(-2**31), "k.u64": G.u64(2**64 - 1), "k.i64": G.i64(-2**63),
            "k.f32": G.f32(1e-5), "k.f64": G.f64(1.0 / 3), "k.bool": G.boolean(True), "k.str": G.string("héllo ▁"),
            "k.empty": G.array(G.STRING, []),
            "k.arr_i32": G.array(G.INT32, [1, -2, 3]),
            "k.arr_bool": G.array(G.BOOL, [True, False]),
            "k.arr_f64": G.array(G.FLOAT64, [0.5, -2.25]),
            "k.arr_str": G.array(G.STRING, ["a", "", "xyz"]),
            "k.nested": G.array(G.ARRAY, [G.array(G.UINT8, [1, 2]), G.array(G.ARRAY, [G.array(G.STRING, ["q"])])]),
        }
        a = rng.standard_normal((3, 40)).astype(np.float32)
        t = rand_trits(rng, 256 * 2)
        tensors = [("a", F.F32, [40, 3], F.encode_f32(a)),
                   ("b", F.F16, [5], F.encode_f16(np.arange(5))),
                   ("c", F.I2_S, [256, 2], F.encode_i2s(t, 0.25)),
                   ("d", F.TQ1_0, [256, 2], F.encode_tq1_0(t, 0.25))]
        for align in (32, 64):
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "x.gguf")
                G.write(p, dict(md, **{"general.alignment": G.u32(align)}), tensors)
                g = G.read(p)
                self.assertEqual(g.version, 3)
                self.assertEqual(g.alignment, align)
                self.assertEqual(g.data_offset % align, 0)
                for k, v in md.items():
                    self.assertEqual(g.metadata[k].type, v.type, k)
                    got = g.kv(k)
                    want = v.plain()
                    if k == "k.f32":
                        self.assertEqual(got, float(np.float32(1e-5)))
                    else:
                        self.assertEqual(got, want, k)
                self.assertEqual(g.metadata["k.nested"].value[1].value[0].plain(), ["q"])
                for name, ty, dims, raw in tensors:
                    ti = g.tensors[name]
                    self.assertEqual(ti.offset % align, 0)
                    self.assertEqual(list(ti.dims), dims)
                    self.assertEqual(ti.type, ty)
                    self.assertEqual(ti.data.tobytes(), raw)
                self.assertEqual(g.tensors["a"].shape, (3, 40))
                np.testing.assert_array_equal(F.decode_f32(g.tensors["a"].data, 120).reshape(3, 40), a)
                self.assertEqual(os.path.getsize(p) % align, 0)

    def test_reads_v2_and_rejects_garbage(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.gguf")
            G.write(p, {"general.architecture": G.string("llama")}, [("t", F.F32, [4], F.encode_f32([1, 2, 3, 4]))])
            raw = bytearray(open(p, "rb").read())
            raw[4:8] = struct.pack("<I", 2)
            put(p, raw)
            self.assertEqual(G.read(p).version, 2)
            raw[0:4] = b"GGUX"
            put(p, raw)
            with self.assertRaises(G.GGUFError):
                G.read(p)
            raw[0:4] = b"GGUF"
            put(p, raw[:-20])
            with self.assertRaises(G.GGUFError):
                G.read(p)

    def test_tensor_sizes(self):
        self.assertEqual(G.tensor_nbytes(F.I2_S, 256 * 3), 256 * 3 // 4 + 32)
        self.assertEqual(G.tensor_nbytes(F.TQ1_0, 512), 2 * 54)
        self.assertEqual(G.tensor_nbytes(F.TQ2_0, 512), 2 * 66)
        self.assertEqual(G.tensor_nbytes(F.Q8_0, 64), 2 * 34)
        self.assertEqual(G.tensor_nbytes(F.BF16, 10), 20)


# --------------------------------------------------------------------------- formats
class TestFormats(unittest.TestCase):
    def test_float_round_trips(self):
        rng = np.random.default_rng(2)
        x = rng.standard_normal(1000).astype(np.float32)
        np.testing.assert_array_equal(F.decode_f32(F.encode_f32(x), 1000), x.astype(np.float64))
        h = x.astype(np.float16)
        np.testing.assert_array_equal(F.decode_f16(F.encode_f16(h), 1000), h.astype(np.float64))
        b = F.round_bf16(x)
        np.testing.assert_array_equal(F.decode_bf16(F.encode_bf16(b), 1000), b)
        self.assertTrue(np.all(np.abs(b - x) <= np.abs(x) * 2.0 ** -8))
        # bf16 rounding is to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7
        self.assertEqual(F.round_bf16(np.float32(1 + 2 ** -8)), 1.0)
        self.assertEqual(F.round_bf16(np.float32(1 + 3 * 2 ** -8)), 1 + 2 ** -6)

    def test_q8_0(self):
        rng = np.random.default_rng(3)
        x = rng.standard_normal(32 * 7).astype(np.float32) * 3
        x[:32] = 0                                     # an all-zero block
        raw = F.encode_q8_0(x)
        self.assertEqual(len(raw), 7 * 34)
        y = F.decode_q8_0(raw, x.size)
        d = np.abs(x.reshape(-1, 32)).max(axis=1) / 127
        # rounding error d/2, plus 127 * |d - fp16(d)| <= 127 * d * 2^-11
        self.assertTrue(np.all(np.abs(y - x).reshape(-1, 32) <= d[:, None] * (0.5 + 127 * 2.0 ** -11) + 1e-12))
        self.assertTrue(np.all(y[:32] == 0))
        blk = np.frombuffer(raw[34:68], dtype=np.uint8)
        dd = float(np.frombuffer(blk[:2].tobytes(), dtype="<f2")[0])
        q = np.frombuffer(blk[2:].tobytes(), dtype=np.int8)
        np.testing.assert_array_equal(y[32:64], q * dd)
        self.assertEqual(np.abs(q).max(), 127)

    def test_ternary_round_trips(self):
        rng = np.random.default_rng(4)
        for n in (128, 384, 256 * 5):
            t = rand_trits(rng, n)
            got, beta = F.decode_i2s(F.encode_i2s(t, 0.0371), n)
            np.testing.assert_array_equal(got, t)
            self.assertEqual(beta, float(np.float32(0.0371)))
            self.assertEqual(len(F.encode_i2s(t, 1.0)), n // 4 + 32)
            if n % 256 == 0:
                for enc, dec, bb in ((F.encode_tq2_0, F.decode_tq2_0, 66), (F.encode_tq1_0, F.decode_tq1_0, 54)):
                    raw = enc(t, 0.0371)
                    self.assertEqual(len(raw), n // 256 * bb)
                    got, d = dec(raw, n)
                    np.testing.assert_array_equal(got, t)
                    np.testing.assert_array_equal(d, np.full(n // 256, float(np.float16(0.0371))))

    def test_i2s_bit_positions(self):
        t = np.zeros(256, dtype=np.int8)          # code 1 everywhere: byte 0b01010101 = 0x55
        t[0] = 1                                  # b0 g0 p0: byte 0 bits 7-6 = 2  -> 0x95
        t[33] = -1                                # b0 g1 p1: byte 1 bits 5-4 = 0  -> 0x45
        t[127] = 1                                # b0 g3 p31: byte 31 bits 1-0 = 2 -> 0x56
        t[128] = -1                               # b1 g0 p0: byte 32 bits 7-6 = 0 -> 0x15
        t[128 + 2 * 32 + 7] = 1                   # b1 g2 p7: byte 39 bits 3-2 = 2 -> 0x59
        raw = F.encode_i2s(t, 1.5)
        want = bytearray([0x55] * 64)
        want[0], want[1], want[31], want[32], want[39] = 0x95, 0x45, 0x56, 0x15, 0x59
        self.assertEqual(raw[:64], bytes(want))
        self.assertEqual(raw[64:68], struct.pack("<f", 1.5))
        self.assertEqual(raw[68:], b"\0" * 28)
        got, beta = F.decode_i2s(bytes(want) + struct.pack("<f", 1.5) + b"\1" * 28, 256)
        np.testing.assert_array_equal(got, t)
        self.assertEqual(beta, 1.5)

    def test_tq2_0_bit_positions(self):
        t = np.zeros(256, dtype=np.int8)
        t[0] = 1                # j=0, l=0, m=0: qs[0] bits 1-0 = 2
        t[32 + 5] = -1          # j=0, l=1, m=5: qs[5] bits 3-2 = 0
        t[128 + 96 + 31] = 1    # j=32, l=3, m=31: qs[63] bits 7-6 = 2
        raw = F.encode_tq2_0(t, 0.5)
        want = bytearray([0x55] * 64)
        want[0], want[5], want[63] = 0x56, 0x51, 0x95
        self.assertEqual(raw[:64], bytes(want))
        self.assertEqual(raw[64:], struct.pack("<e", 0.5))

    def test_tq1_0_hand_block(self):
        # All-zero trits: digits 1,1,1,1,1 -> v = 121 -> ceil(121*256/243) = 128 in qs;
        # qh digits 1,1,1,1 and a 0 -> v = 120 -> 127.
        blk = bytearray([128] * 48 + [127] * 4) + struct.pack("<e", 0.5)
        # qs[0] holds elements 0, 32, 64, 96, 128 (most significant digit first):
        # trits +1,-1,0,+1,-1 -> digits 2,0,1,2,0 -> v = 177 -> ceil(177*256/243) = 187
        blk[0] = 187
        # qs[32+3] holds elements 160+3, 176+3, 192+3, 208+3, 224+3:
        # trits -1,-1,-1,-1,+1 -> digits 0,0,0,0,2 -> v = 2 -> ceil(512/243) = 3
        blk[35] = 3
        # qh[1] holds elements 241, 245, 249, 253: trits -1,+1,0,+1 -> digits 0,2,1,2 and a fifth 0
        # -> v = (0*27 + 2*9 + 1*3 + 2) * 3 = 69 -> ceil(69*256/243) = 73
        blk[49] = 73
        t, d = F.decode_tq1_0(bytes(blk), 256)
        want = np.zeros(256, dtype=np.int8)
        want[[0, 32, 64, 96, 128]] = [1, -1, 0, 1, -1]
        want[[163, 179, 195, 211, 227]] = [-1, -1, -1, -1, 1]
        want[[241, 245, 249, 253]] = [-1, 1, 0, 1]
        np.testing.assert_array_equal(t, want)
        self.assertEqual(d[0], 0.5)
        self.assertEqual(F.encode_tq1_0(want, 0.5), bytes(blk))

    def test_tq1_0_every_byte_value(self):
        # Every 5-trit word survives the ceil(v*256/243) packing and the (q*3^k mod 256)*3 >> 8 unpacking.
        for v in range(243):
            digits = [(v // 3 ** (4 - k)) % 3 for k in range(5)]
            byte = (v * 256 + 242) // 243
            got = [(((byte * 3 ** k) & 255) * 3) >> 8 for k in range(5)]
            self.assertEqual(got, digits, v)

    def test_tq_matches_ggml_style_scalar_quantizer(self):
        """Byte-for-byte against a plain loop transcription of ggml's reference quantizers
        (float weights = trits * d, amax per block, lroundf(x / d) + 1)."""
        rng = np.random.default_rng(5)
        t = rand_trits(rng, 512)
        t[256:] = 0
        t[300] = 1
        d = 0.75
        x = t.astype(np.float32) * np.float32(d)

        def lround(v):
            return int(np.sign(v) * np.floor(abs(v) + 0.5))

        tq2, tq1 = bytearray(), bytearray()
        for b in range(2):
            xb = x[b * 256:(b + 1) * 256]
            amax = float(np.abs(xb).max())
            inv = 1.0 / amax if amax else 0.0
            qs = [0] * 64
            for j in (0, 32):
                for m in range(32):
                    for n in range(4):
                        qs[j + m] |= (lround(xb[j * 4 + n * 32 + m] * inv) + 1) << (2 * n)
            tq2 += bytes(qs) + struct.pack("<e", amax)
            q1 = []
            for m in range(32):
                v = 0
                for n in range(5):
                    v = v * 3 + lround(xb[m + n * 32] * inv) + 1
                q1.append((v * 256 + 242) // 243)
            for m in range(16):
                v = 0
                for n in range(5):
                    v = v * 3 + lround(xb[160 + m + n * 16] * inv) + 1
                q1.append((v * 256 + 242) // 243)
            for j in range(4):
                v = 0
                for n in range(4):
                    v = v * 3 + lround(xb[240 + j + n * 4] * inv) + 1
                q1.append((v * 3 * 256 + 242) // 243)
            tq1 += bytes(q1) + struct.pack("<e", amax)
        self.assertEqual(F.encode_tq2_0(t, d), bytes(tq2))
        self.assertEqual(F.encode_tq1_0(t, d), bytes(tq1))


# --------------------------------------------------------------------------- math
class TestMath(unittest.TestCase):
    def test_quantizer_ties_round_half_even(self):
        x = np.array([[127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 126.5, -127.0]])
        q, s = M.quantize_activations(x)
        self.assertEqual(s[0, 0], 1.0)
        np.testing.assert_array_equal(q[0], [127, 0, 2, 2, 0, -2, -2, 4, 126, -127])
        q, s = M.quantize_activations(np.zeros((1, 4)))
        self.assertEqual(s[0, 0], 127 / 1e-5)
        np.testing.assert_array_equal(q, 0)
        # per row, not per tensor
        q, s = M.quantize_activations(np.array([[1.0, -0.5], [100.0, 50.0]]))
        np.testing.assert_array_equal(q, [[127, -64], [127, 64]])   # -63.5 -> -64, 63.5 -> 64 (even)

    def test_default_ffn_act(self):
        self.assertEqual(M.default_ffn_act("bitnet-b1.58", 300), "relu2")
        self.assertEqual(M.default_ffn_act("bitnet-25", 300), "relu2")
        self.assertEqual(M.default_ffn_act("bitnet", 128256), "relu2")
        self.assertEqual(M.default_ffn_act("bitnet", 32002), "silu")
        self.assertEqual(M.default_ffn_act("llama", 128256), "silu")

    def test_bitlinear_exact(self):
        rng = np.random.default_rng(6)
        t = rand_trits(rng, 48 * 200).reshape(48, 200)
        x = rng.standard_normal((3, 200)) * 5
        lin = M.BitLinear("w", t, 0.02)
        q, s = M.quantize_activations(x)
        want = np.array([[sum(int(q[r, j]) * int(t[i, j]) for j in range(200)) for i in range(48)] for r in range(3)])
        np.testing.assert_array_equal(M.int_matmul(q, t), want)
        np.testing.assert_allclose(lin(x), want * 0.02 / s, rtol=0, atol=0)

    def test_ternarize_float(self):
        rng = np.random.default_rng(7)
        a = 0.0123
        t = rand_trits(rng, 400).reshape(20, 20)
        w = t * a
        w[0, 0] = 3e-7 if t[0, 0] == 0 else w[0, 0]
        got, beta, how = M.ternarize_float(w)
        self.assertEqual(how, "ternary-valued")
        self.assertEqual(beta, a)
        np.testing.assert_array_equal(got, t)
        w = rng.standard_normal((30, 30))
        got, beta, how = M.ternarize_float(w)
        self.assertEqual(how, "absmean")
        self.assertAlmostEqual(beta, np.abs(w).mean(), places=15)
        np.testing.assert_array_equal(got, np.clip(np.rint(w / beta), -1, 1))
        # a tie at exactly beta/2 rounds to even (0); 1.5 beta -> 2 -> clamped to 1
        w = np.array([[0.5, 1.5, -0.5, 1.5]])        # mean |w| = 1 exactly
        got, beta, _ = M.ternarize_float(w)
        self.assertEqual(beta, 1.0)
        np.testing.assert_array_equal(got, [[0, 1, 0, 1]])

    def test_rope_against_rotation(self):
        rng = np.random.default_rng(8)
        T, nh, D, theta = 5, 3, 16, 10000.0
        x = rng.standard_normal((T, nh, D))
        for kind in ("neox", "norm"):
            y = M.apply_rope(x, np.arange(T), D, theta, kind)
            for p in range(T):
                for h in range(nh):
                    for i in range(D // 2):
                        ang = p * theta ** (-2.0 * i / D)
                        R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
                        a, b = (i, i + D // 2) if kind == "neox" else (2 * i, 2 * i + 1)
                        np.testing.assert_allclose(y[p, h, [a, b]], R @ x[p, h, [a, b]], rtol=0, atol=1e-14)
            # position 0 is the identity; norms are kept
            np.testing.assert_array_equal(y[0], x[0])
            np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-14)
        # NORM on an interleaving permutation equals NEOX
        perm = np.array([k for i in range(D // 2) for k in (i, i + D // 2)])
        np.testing.assert_allclose(M.apply_rope(x[..., perm], np.arange(T), D, theta, "norm"),
                                   M.apply_rope(x, np.arange(T), D, theta, "neox")[..., perm], atol=1e-14)

    def test_attention_gqa_and_causality(self):
        rng = np.random.default_rng(9)
        T, nh, nkv, D = 6, 8, 2, 4
        q = rng.standard_normal((T, nh, D))
        k = rng.standard_normal((T, nkv, D))
        v = rng.standard_normal((T, nkv, D))
        out = M.attention(q, k, v, nh, nkv).reshape(T, nh, D)
        for p in range(T):
            for j in range(nh):
                g = j // (nh // nkv)
                s = np.array([q[p, j] @ k[t, g] for t in range(p + 1)]) / np.sqrt(D)
                w = np.exp(s - s.max())
                w /= w.sum()
                np.testing.assert_allclose(out[p, j], w @ v[:p + 1, g], rtol=1e-13, atol=1e-14)


# --------------------------------------------------------------------------- golden models
class TestEmbedModels(unittest.TestCase):
    """The committed embedding goldens are what the reference computes, and pooling /
    normalisation follow llama-embedding's definitions."""

    def test_goldens_reproduce(self):
        with open(os.path.join(MODELS_DIR, "embed_manifest.json")) as f:
            man = json.load(f)
        self.assertEqual(len(man["models"]), 4)
        for e in man["models"]:
            m = M.load_embed_gguf(os.path.join(MODELS_DIR, e["file"]))
            rows = np.concatenate([m.hidden(t) for t in e["inputs"]]).astype(np.float32)
            self.assertTrue(np.array_equal(rows, np.load(os.path.join(MODELS_DIR, e["golden"]))), e["name"])

    def test_pool_and_normalize(self):
        v = np.array([3.0, -4.0])
        self.assertTrue(np.allclose(M.normalize(v, 2), [0.6, -0.8]))
        self.assertTrue(np.allclose(M.normalize(v, 1), [3 / 7, -4 / 7]))
        self.assertTrue(np.allclose(M.normalize(v, 0), [3 * 32760 / 4, -32760]))
        self.assertTrue(np.array_equal(M.normalize(v, -1), v))
        self.assertTrue(np.array_equal(M.normalize(np.zeros(2), 2), np.zeros(2)))
        rows = np.arange(6.0).reshape(3, 2)
        self.assertTrue(np.array_equal(M.pool(rows, "mean"), [2.0, 3.0]))
        self.assertTrue(np.array_equal(M.pool(rows, "cls"), [0.0, 1.0]))
        self.assertTrue(np.array_equal(M.pool(rows, "last"), [4.0, 5.0]))

    def test_sliding_window_mask(self):
        # With window 2 a query sees itself and the one key before it: identical keys and
        # values v_t = t give the mean of the two.
        T, D = 5, 2
        q = np.zeros((T, 1, D))
        k = np.zeros((T, 1, D))
        v = np.arange(T, dtype=np.float64)[:, None, None].repeat(D, axis=2)
        out = M.windowed_attention(q, k, v, 1, 1, 2)
        self.assertTrue(np.allclose(out[:, 0], [0, 0.5, 1.5, 2.5, 3.5]))


class TestGoldenModels(unittest.TestCase):
    def setUp(self):
        path = os.path.join(MODELS_DIR, "manifest.json")
        if not os.path.exists(path):
            self.skipTest("no tests/data/models/manifest.json")
        with open(path) as f:
            self.manifest = json.load(f)

    def test_goldens_reproduce(self):
        for e in self.manifest["models"]:
            m = M.load_gguf(os.path.join(MODELS_DIR, e["file"]))
            self.assertEqual(m.hp.ffn_act, e["ffn_act"])
            got = m.forward(e["tokens"]).astype(np.float32)
            want = np.load(os.path.join(MODELS_DIR, e["golden"]))
            np.testing.assert_array_equal(got, want, e["name"])

    def test_prefix_equals_incremental(self):
        e = self.manifest["models"][0]
        m = M.load_gguf(os.path.join(MODELS_DIR, e["file"]))
        full = m.forward(e["tokens"])
        for n in (1, 5):
            np.testing.assert_allclose(m.forward(e["tokens"][:n]), full[:n], rtol=1e-12, atol=1e-12)

    def test_coverage(self):
        ms = self.manifest["models"]
        self.assertEqual({e["arch"] for e in ms}, set(M.ARCHS))
        self.assertTrue({"I2_S", "TQ1_0", "TQ2_0", "F16"} <= {e["format"] for e in ms})
        self.assertTrue({1, 2, 4} <= {e["gqa"] for e in ms})
        total = sum(os.path.getsize(os.path.join(MODELS_DIR, f)) for f in os.listdir(MODELS_DIR))
        self.assertLess(total, 3 * 1024 * 1024)


# --------------------------------------------------------------------------- Hugging Face
def tiny_hf_tensors(rng, H, I, L, nh, nkv, V, naming="2b4t", tied=True):
    D = H // nh
    ts = {"model.embed_tokens.weight": rng.standard_normal((V, H)),
          "model.norm.weight": np.exp(rng.uniform(-2, 2, H))}
    for i in range(L):
        p = "model.layers.%d." % i
        ts[p + "input_layernorm.weight"] = np.exp(rng.uniform(-2, 2, H))
        ts[p + "post_attention_layernorm.weight"] = np.exp(rng.uniform(-2, 2, H))
        for k, shp in (("self_attn.q_proj", (nh * D, H)), ("self_attn.k_proj", (nkv * D, H)),
                       ("self_attn.v_proj", (nkv * D, H)), ("self_attn.o_proj", (H, nh * D)),
                       ("mlp.gate_proj", (I, H)), ("mlp.up_proj", (I, H)), ("mlp.down_proj", (H, I))):
            ts[p + k + ".weight"] = rng.standard_normal(shp) / np.sqrt(shp[1])
        if naming == "2b4t":
            ts[p + "self_attn.attn_sub_norm.weight"] = np.exp(rng.uniform(-2, 2, H))
            ts[p + "mlp.ffn_sub_norm.weight"] = np.exp(rng.uniform(-2, 2, I))
        elif naming == "1bitllm":
            ts[p + "self_attn.inner_attn_ln.weight"] = np.exp(rng.uniform(-2, 2, H))
            ts[p + "mlp.ffn_layernorm.weight"] = np.exp(rng.uniform(-2, 2, I))
            ts[p + "self_attn.rotary_emb.inv_freq"] = 1.0 / 10000 ** (np.arange(0, D, 2) / D)
    if not tied:
        ts["lm_head.weight"] = rng.standard_normal((V, H))
    return {k: (F.round_bf16(v.astype(np.float32)), "BF16") for k, v in ts.items()}


def hf_to_gguf(m, path, arch, permute_qk=False):
    """Write a reference Model (from hf.load_hf) as GGUF with I2_S linears."""
    hp = m.hp
    names = {"attn_q": "attn_q", "attn_k": "attn_k", "attn_v": "attn_v", "attn_output": "attn_output",
             "ffn_gate": "ffn_gate", "ffn_up": "ffn_up", "ffn_down": "ffn_down"}
    tensors = [("token_embd.weight", F.F32, [hp.n_embd, hp.n_vocab], F.encode_f32(m.tok_embd)),
               ("output_norm.weight", F.F32, [hp.n_embd], F.encode_f32(m.output_norm))]
    if m.output is not None:
        tensors.append(("output.weight", F.F32, [hp.n_embd, hp.n_vocab], F.encode_f32(m.output)))
    D = hp.head_dim
    for i, L in enumerate(m.layers):
        for k, gk in names.items():
            t = L[k].trits
            if permute_qk and k in ("attn_q", "attn_k"):
                nheads = t.shape[0] // D
                t = t.reshape(nheads, 2, D // 2, -1).swapaxes(1, 2).reshape(t.shape)
            tensors.append(("blk.%d.%s.weight" % (i, gk), F.I2_S, [t.shape[1], t.shape[0]],
                            F.encode_i2s(t, np.float32(L[k].beta))))
        for k in ("attn_norm", "ffn_norm", "attn_sub_norm", "ffn_sub_norm"):
            if k in L:
                tensors.append(("blk.%d.%s.weight" % (i, k), F.F32, [len(L[k])], F.encode_f32(L[k])))
    a = arch + "."
    md = {"general.architecture": G.string(arch), a + "embedding_length": G.u32(hp.n_embd),
          a + "feed_forward_length": G.u32(hp.n_ff), a + "block_count": G.u32(hp.n_layer),
          a + "attention.head_count": G.u32(hp.n_head), a + "attention.head_count_kv": G.u32(hp.n_head_kv),
          a + "attention.layer_norm_rms_epsilon": G.f32(hp.eps), a + "rope.freq_base": G.f32(hp.rope_theta),
          "tern.test.ffn_act": G.string(hp.ffn_act)}
    G.write(path, md, tensors)


def close(tc, got, ref):
    """GGUF stores eps, theta and beta as float32 where the HF path keeps float64: allow 1e-5 relative."""
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


class TestHF(unittest.TestCase):
    H, I, L, nh, nkv, V = 64, 96, 2, 4, 2, 100
    tokens = [1, 5, 99, 5, 42, 7]

    def write(self, d, ts, cfg):
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        hf.save_safetensors(os.path.join(d, "model.safetensors"), ts, {"format": "pt"})

    def cfg(self, **kw):
        c = {"architectures": ["BitNetForCausalLM"], "model_type": "bitnet", "hidden_act": "relu2",
             "hidden_size": self.H, "intermediate_size": self.I, "num_hidden_layers": self.L,
             "num_attention_heads": self.nh, "num_key_value_heads": self.nkv, "rms_norm_eps": 1e-5,
             "rope_theta": 500000.0, "vocab_size": self.V, "tie_word_embeddings": True,
             "quantization_config": {"quant_method": "bitnet", "linear_class": "autobitlinear",
                                     "quantization_mode": "online"}}
        c.update(kw)
        return c

    def test_2b4t_bf16_packed_and_gguf_agree(self):
        rng = np.random.default_rng(10)
        ts = tiny_hf_tensors(rng, self.H, self.I, self.L, self.nh, self.nkv, self.V)
        with tempfile.TemporaryDirectory() as d:
            self.write(d, ts, self.cfg())
            m = hf.load_hf(d)
            self.assertEqual(m.hp.ffn_act, "relu2")
            self.assertEqual(m.hp.rope_type, "neox")
            ref = m.forward(self.tokens)
            # the same model through GGUF (bitnet-b1.58: NEOX, no permutation)
            p = os.path.join(d, "m.gguf")
            hf_to_gguf(m, p, "bitnet-b1.58")
            close(self, M.load_gguf(p).forward(self.tokens), ref)
            # packed uint8 with weight_scale, both linear classes
            for lclass in ("autobitlinear", "bitlinear"):
                pk = dict(ts)
                for i, L in enumerate(m.layers):
                    for hk, gk in (("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"),
                                   ("self_attn.v_proj", "attn_v"), ("self_attn.o_proj", "attn_output"),
                                   ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
                                   ("mlp.down_proj", "ffn_down")):
                        n = "model.layers.%d.%s" % (i, hk)
                        pk[n + ".weight"] = (hf.pack_2b4t(L[gk].trits), "U8")
                        ws = L[gk].beta if lclass == "autobitlinear" else 1.0 / L[gk].beta
                        pk[n + ".weight_scale"] = (np.array([ws]), "F64")
                with tempfile.TemporaryDirectory() as d2:
                    self.write(d2, pk, self.cfg(quantization_config={
                        "quant_method": "bitnet", "linear_class": lclass, "quantization_mode": "offline"}))
                    mp = hf.load_hf(d2)
                    for i in range(self.L):
                        for k in M.LAYER_LINEARS:
                            np.testing.assert_array_equal(mp.layers[i][k].trits, m.layers[i][k].trits)
                    np.testing.assert_allclose(mp.forward(self.tokens), ref, rtol=1e-12, atol=1e-12)

    def test_pack_layout(self):
        t = np.array([[1], [0], [-1], [1], [-1], [-1], [0], [0]])     # out = 8, R = 2
        p = hf.pack_2b4t(t)
        # row i*2 + r lives in bits 2i of packed[r]
        self.assertEqual(int(p[0, 0]), (2 << 0) | (0 << 2) | (0 << 4) | (1 << 6))
        self.assertEqual(int(p[1, 0]), (1 << 0) | (2 << 2) | (0 << 4) | (1 << 6))
        np.testing.assert_array_equal(hf.unpack_2b4t(p, 8), t)

    def test_1bitllm_naming_and_sharded_untied(self):
        rng = np.random.default_rng(11)
        ts = tiny_hf_tensors(rng, self.H, self.I, self.L, self.nh, self.nh, self.V, naming="1bitllm", tied=False)
        ts = {k: (F.round_bf16(v).astype(np.float16).astype(np.float64), "F16") for k, (v, _) in ts.items()}
        cfg = self.cfg(architectures=["BitnetForCausalLM"], model_type="llama", hidden_act="silu",
                       num_key_value_heads=self.nh, tie_word_embeddings=False, rope_theta=10000.0)
        cfg.pop("quantization_config")
        with tempfile.TemporaryDirectory() as d:
            self.write(d, ts, cfg)
            m = hf.load_hf(d)
            self.assertEqual((m.hp.arch, m.hp.ffn_act, m.hp.sub_norms), ("bitnet", "silu", True))
            self.assertIsNotNone(m.output)
            ref = m.forward(self.tokens)
            p = os.path.join(d, "m.gguf")
            hf_to_gguf(m, p, "bitnet")
            close(self, M.load_gguf(p).forward(self.tokens), ref)
        with tempfile.TemporaryDirectory() as d:     # the same, sharded
            names = sorted(ts)
            half = len(names) // 2
            wm = {}
            for fi, chunk in enumerate((names[:half], names[half:])):
                fn = "model-%05d-of-00002.safetensors" % (fi + 1)
                hf.save_safetensors(os.path.join(d, fn), {k: ts[k] for k in chunk})
                wm.update({k: fn for k in chunk})
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {}, "weight_map": wm}, f)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f)
            np.testing.assert_array_equal(hf.load_hf(d).forward(self.tokens), ref)

    def test_llama_permuted_gguf_norm_equals_hf_neox(self):
        rng = np.random.default_rng(12)
        ts = tiny_hf_tensors(rng, self.H, self.I, self.L, self.nh, self.nkv, self.V, naming="none")
        cfg = self.cfg(architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu")
        cfg.pop("quantization_config")
        with tempfile.TemporaryDirectory() as d:
            self.write(d, ts, cfg)
            m = hf.load_hf(d)
            self.assertEqual((m.hp.arch, m.hp.sub_norms, m.hp.rope_type), ("llama", False, "neox"))
            ref = m.forward(self.tokens)
            p = os.path.join(d, "m.gguf")
            hf_to_gguf(m, p, "llama", permute_qk=True)
            g = M.load_gguf(p)
            self.assertEqual(g.hp.rope_type, "norm")
            close(self, g.forward(self.tokens), ref)
            hf_to_gguf(m, p, "llama", permute_qk=False)      # without the permutation it must differ
            self.assertGreater(np.abs(M.load_gguf(p).forward(self.tokens) - ref).max(), 1e-3)


MAKE_HF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_hf_checkpoint.py")


@unittest.skipUnless(os.environ.get("TERN_REF_SLOW"),
                     "slow: set TERN_REF_SLOW=1 to run make_hf_checkpoint.py --preset tiny "
                     "(writes ~150 MB under the temp folder)")
class TestTinyPresetCheckpoint(unittest.TestCase):
    def test_tiny_preset_and_packed_form(self):
        import subprocess
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "tiny"), os.path.join(d, "packed")
            subprocess.run([sys.executable, MAKE_HF, "--preset", "tiny", "--out", src],
                           check=True, stdout=subprocess.DEVNULL)
            m = hf.load_hf(src)
            self.assertEqual((m.hp.n_vocab, m.hp.n_head_kv, m.hp.ffn_act, m.hp.rope_type),
                             (128256, 2, "relu2", "neox"))
            toks = [128000, 791, 4062, 14198]
            ref = m.forward(toks)
            hf.pack_checkpoint(src, dst, "autobitlinear", "F32")
            close(self, hf.load_hf(dst).forward(toks), ref)

    def test_shards_f16_and_tokenizer_config(self):
        import subprocess
        with tempfile.TemporaryDirectory() as d:
            tok = os.path.join(d, "tok")
            os.makedirs(tok)
            with open(os.path.join(tok, "tokenizer.json"), "w") as f:
                f.write('{"stand-in": true}')
            with open(os.path.join(tok, "tokenizer_config.json"), "w") as f:   # Meta's, must not be used
                json.dump({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}, f)
            one, sharded = os.path.join(d, "one"), os.path.join(d, "sharded")
            common = [sys.executable, MAKE_HF, "--preset", "tiny", "--dtype", "f16"]
            subprocess.run(common + ["--out", one], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(common + ["--out", sharded, "--max-shard-bytes", "2000000", "--tokenizer-dir", tok],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(sharded, "model.safetensors.index.json")) as f:
                index = json.load(f)
            self.assertGreater(len(set(index["weight_map"].values())), 2)
            self.assertFalse(os.path.exists(os.path.join(sharded, "model.safetensors")))
            a, b = hf.Checkpoint(one), hf.Checkpoint(sharded)
            self.assertEqual(sorted(a.where), sorted(b.where))
            for name in sorted(a.where):
                (x, dx), (y, dy) = a.get(name), b.get(name)
                self.assertEqual((dx, dy), ("F16", "F16"))
                self.assertTrue(np.array_equal(x, y), name)
            self.assertTrue(os.path.exists(os.path.join(sharded, "tokenizer.json")))
            with open(os.path.join(sharded, "tokenizer_config.json")) as f:
                tc = json.load(f)
            self.assertEqual((tc["bos_token"], tc["eos_token"], tc["add_bos_token"]),
                             ("<|begin_of_text|>", "<|eot_id|>", True))
            self.assertIn("| capitalize + ': '", tc["chat_template"])
            self.assertEqual([f for f in os.listdir(sharded) if f.endswith(".partial")], [])


class TestEmbedPresetCheckpoints(unittest.TestCase):
    """make_hf_checkpoint.py's embedding presets as hf.load_hf_embed reads them (a second, tiny run)."""

    def make(self, d, preset, *flags):
        import subprocess
        out = os.path.join(d, preset + "".join(flags))
        subprocess.run([sys.executable, MAKE_HF, "--preset", preset, "--out", out] + list(flags),
                       check=True, stdout=subprocess.DEVNULL)
        return out

    def test_gemma3_norms_are_one_plus_w_and_bitlinear_norms_are_not(self):
        with tempfile.TemporaryDirectory() as d:
            src = self.make(d, "gemma3-tiny", "--pooling", "mean")
            ck = hf.Checkpoint(src)
            m = hf.load_hf_embed(src)
            L1 = m.layers[1]
            raw = ck.get("model.layers.1.self_attn.q_norm.weight")[0]
            self.assertTrue(np.array_equal(L1["attn_q_norm"], raw.astype(np.float64) + 1.0))
            raw_in = ck.get("model.layers.1.mlp.down_proj.norm.weight")[0]
            self.assertTrue(np.array_equal(L1["ffn_down_norm_in"], raw_in.astype(np.float64)))
            self.assertEqual((m.hp.pooling, m.hp.swa_window, m.hp.local(0), m.hp.local(1), m.hp.head_dim),
                             ("mean", 4, True, False, 32))
            self.assertEqual(m.hidden([2, 40, 41, 1]).shape, (4, 64))

    def test_qwen3_without_prefix_and_norms_as_a_teacher(self):
        with tempfile.TemporaryDirectory() as d:
            src = self.make(d, "qwen3-tiny", "--no-model-prefix", "--no-norm-in")
            ck = hf.Checkpoint(src)
            self.assertTrue(ck.has("embed_tokens.weight"))
            self.assertFalse(any(n.endswith("proj.norm.weight") for n in ck.where))
            m = hf.load_hf_embed(src, float_linears=True)
            self.assertIsInstance(m.layers[0]["attn_q"], M.FloatLinear)
            self.assertEqual((m.hp.pooling, m.hp.n_vocab, m.hp.head_dim * m.hp.n_head), ("last", 320, 128))
            with open(os.path.join(src, "tokenizer.json")) as f:
                tok = json.load(f)
            self.assertEqual(tok["post_processor"]["single"][-1]["SpecialToken"]["id"], "<|endoftext|>")


if __name__ == "__main__":
    unittest.main()
