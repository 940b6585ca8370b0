"""GGUF v2/v3 reader and v3 writer in plain numpy + struct.

Written from tern's SPEC.md section 5 and the public GGUF description (ggml docs/gguf.md).
Shares no code with the C++ implementation.

Layout (little-endian):
    magic "GGUF", uint32 version, uint64 tensor_count, uint64 metadata_kv_count
    metadata: gguf_string key, uint32 value_type, value
    tensor infos: gguf_string name, uint32 n_dims, uint64 dims[n_dims] (innermost first),
                  uint32 type, uint64 offset (relative to the data section)
    padding to general.alignment (default 32), then the data section; every tensor offset
    is a multiple of the alignment.
gguf_string = uint64 length + bytes (no NUL).  Version 1 used uint32 lengths/counts and is
not supported here.
"""
import os
import struct

import numpy as np

# --------------------------------------------------------------------------- value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

_SCALAR_FMT = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}
_SCALAR_NP = {
    UINT8: "<u1", INT8: "<i1", UINT16: "<u2", INT16: "<i2", UINT32: "<u4", INT32: "<i4",
    FLOAT32: "<f4", BOOL: "<u1", UINT64: "<u8", INT64: "<i8", FLOAT64: "<f8",
}
TYPE_NAMES = {UINT8: "UINT8", INT8: "INT8", UINT16: "UINT16", INT16: "INT16", UINT32: "UINT32",
              INT32: "INT32", FLOAT32: "FLOAT32", BOOL: "BOOL", STRING: "STRING", ARRAY: "ARRAY",
              UINT64: "UINT64", INT64: "INT64", FLOAT64: "FLOAT64"}

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32


class GGUFError(Exception):
    pass


class Value:
    """A typed metadata value. For arrays: type == ARRAY, elem_type set, value is a list
    (of python scalars/strings, or of nested Value objects when elem_type == ARRAY)."""

    __slots__ = ("type", "value", "elem_type")

    def __init__(self, type_, value, elem_type=None):
        self.type = type_
        self.value = value
        self.elem_type = elem_type

    def plain(self):
        """Python value with nested Values unwrapped."""
        if self.type == ARRAY:
            if self.elem_type == ARRAY:
                return [v.plain() for v in self.value]
            return list(self.value)
        return self.value

    def __repr__(self):
        if self.type == ARRAY:
            return "Value(ARRAY[%s], n=%d)" % (TYPE_NAMES.get(self.elem_type, self.elem_type), len(self.value))
        return "Value(%s, %r)" % (TYPE_NAMES[self.type], self.value)


# typed constructors for the writer
def u8(v): return Value(UINT8, int(v))
def i8(v): return Value(INT8, int(v))
def u16(v): return Value(UINT16, int(v))
def i16(v): return Value(INT16, int(v))
def u32(v): return Value(UINT32, int(v))
def i32(v): return Value(INT32, int(v))
def u64(v): return Value(UINT64, int(v))
def i64(v): return Value(INT64, int(v))
def f32(v): return Value(FLOAT32, float(v))
def f64(v): return Value(FLOAT64, float(v))
def boolean(v): return Value(BOOL, bool(v))
def string(v): return Value(STRING, str(v))
def array(elem_type, values): return Value(ARRAY, list(values), elem_type)


def _auto_value(v):
    """Map a plain python value to a typed Value (used when the writer gets untyped input)."""
    if isinstance(v, Value):
        return v
    if isinstance(v, bool):
        return boolean(v)
    if isinstance(v, int):
        return i32(v) if -2**31 <= v < 2**31 else i64(v)
    if isinstance(v, float):
        return f32(v)
    if isinstance(v, str):
        return string(v)
    raise GGUFError("cannot infer a GGUF type for %r; wrap it in a typed Value" % (v,))


# --------------------------------------------------------------------------- tensor types
# type id -> (name, block elements, block bytes)
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    36: ("I2_S", None, None),  # n/4 code bytes + 32 bytes (scale + padding) for the whole tensor
}
TYPE_IDS = {v[0]: k for k, v in GGML_TYPES.items()}


def tensor_nbytes(type_id, n_elements):
    if type_id not in GGML_TYPES:
        raise GGUFError("unknown ggml type id %d" % type_id)
    name, blk, bb = GGML_TYPES[type_id]
    if name == "I2_S":
        if n_elements % 4:
            raise GGUFError("I2_S tensor with %d elements (not a multiple of 4)" % n_elements)
        return n_elements // 4 + 32
    if n_elements % blk:
        raise GGUFError("%s tensor with %d elements, not a multiple of block size %d" % (name, n_elements, blk))
    return n_elements // blk * bb


def align_up(x, a):
    return (x + a - 1) // a * a


# --------------------------------------------------------------------------- reader
class TensorInfo:
    __slots__ = ("name", "dims", "type", "offset", "nbytes", "data")

    def __init__(self, name, dims, type_, offset):
        self.name = name
        self.dims = tuple(dims)      # GGUF order: innermost first
        self.type = type_
        self.offset = offset         # relative to the data section
        self.nbytes = None
        self.data = None             # np.uint8 view of the tensor bytes

    @property
    def shape(self):
        """numpy (row-major) shape: outermost first."""
        return tuple(reversed(self.dims))

    @property
    def n_elements(self):
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def type_name(self):
        return GGML_TYPES.get(self.type, ("?%d" % self.type,))[0]

    def __repr__(self):
        return "TensorInfo(%s, dims=%s, %s, off=%d)" % (self.name, self.dims, self.type_name, self.offset)


class _Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError("truncated file: need %d bytes at offset %d, file has %d" % (n, self.pos, len(self.buf)))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def scalar(self, t):
        fmt = _SCALAR_FMT[t]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.scalar(UINT64)
        return bytes(self.take(n)).decode("utf-8", errors="surrogateescape")


def _read_value(cur, t, depth=0):
    if depth > 8:
        raise GGUFError("metadata arrays nested too deeply")
    if t in _SCALAR_FMT:
        v = cur.scalar(t)
        if t == BOOL:
            v = bool(v)
        return Value(t, v)
    if t == STRING:
        return Value(STRING, cur.string())
    if t == ARRAY:
        et = cur.scalar(UINT32)
        n = cur.scalar(UINT64)
        if et in _SCALAR_NP:
            size = np.dtype(_SCALAR_NP[et]).itemsize
            raw = cur.take(n * size)
            arr = np.frombuffer(raw, dtype=_SCALAR_NP[et])
            vals = [bool(x) for x in arr] if et == BOOL else arr.tolist()
            return Value(ARRAY, vals, et)
        if et == STRING:
            return Value(ARRAY, [cur.string() for _ in range(n)], et)
        if et == ARRAY:
            return Value(ARRAY, [_read_value(cur, ARRAY, depth + 1) for _ in range(n)], et)
        raise GGUFError("unknown array element type %d" % et)
    raise GGUFError("unknown metadata value type %d at offset %d" % (t, cur.pos))


class GGUFFile:
    """Parsed GGUF file. `metadata` maps key -> Value; `kv(key)` returns the plain value;
    `tensors` maps name -> TensorInfo (with .data a uint8 array of its bytes)."""

    def __init__(self, path):
        self.path = path
        self._mm = np.memmap(path, dtype=np.uint8, mode="r") if os.path.getsize(path) else np.zeros(0, np.uint8)
        buf = memoryview(self._mm)
        cur = _Cursor(buf)
        if bytes(cur.take(4)) != GGUF_MAGIC:
            raise GGUFError("%s: not a GGUF file (bad magic)" % path)
        self.version = cur.scalar(UINT32)
        if self.version not in (2, 3):
            raise GGUFError("%s: GGUF version %d not supported (2 or 3)" % (path, self.version))
        n_tensors = cur.scalar(UINT64)
        n_kv = cur.scalar(UINT64)
        self.metadata = {}
        for _ in range(n_kv):
            key = cur.string()
            t = cur.scalar(UINT32)
            if key in self.metadata:
                raise GGUFError("duplicate metadata key %r" % key)
            self.metadata[key] = _read_value(cur, t)
        self.tensors = {}
        order = []
        for _ in range(n_tensors):
            name = cur.string()
            nd = cur.scalar(UINT32)
            if nd > 8:
                raise GGUFError("tensor %r has %d dims" % (name, nd))
            dims = [cur.scalar(UINT64) for _ in range(nd)]
            t = cur.scalar(UINT32)
            off = cur.scalar(UINT64)
            if name in self.tensors:
                raise GGUFError("duplicate tensor %r" % name)
            ti = TensorInfo(name, dims, t, off)
            self.tensors[name] = ti
            order.append(ti)
        self.tensor_order = [t.name for t in order]
        al = self.metadata.get("general.alignment")
        self.alignment = int(al.value) if al is not None else DEFAULT_ALIGNMENT
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise GGUFError("general.alignment %d is not a power of two" % self.alignment)
        self.data_offset = align_up(cur.pos, self.alignment)
        for ti in order:
            if ti.offset % self.alignment:
                raise GGUFError("tensor %r offset %d not aligned to %d" % (ti.name, ti.offset, self.alignment))
            ti.nbytes = tensor_nbytes(ti.type, ti.n_elements)
            start = self.data_offset + ti.offset
            if start + ti.nbytes > len(self._mm):
                raise GGUFError("tensor %r [%d, %d) past end of file (%d)" % (ti.name, start, start + ti.nbytes, len(self._mm)))
            ti.data = self._mm[start:start + ti.nbytes]

    def kv(self, key, default=None):
        v = self.metadata.get(key)
        return default if v is None else v.plain()

    def has(self, key):
        return key in self.metadata


def read(path):
    return GGUFFile(path)


# --------------------------------------------------------------------------- writer
def _write_string(out, s):
    b = s.encode("utf-8", errors="surrogateescape")
    out.append(struct.pack("<Q", len(b)))
    out.append(b)


def _write_value(out, v):
    t = v.type
    if t in _SCALAR_FMT:
        out.append(struct.pack(_SCALAR_FMT[t], v.value))
    elif t == STRING:
        _write_string(out, v.value)
    elif t == ARRAY:
        et = v.elem_type
        out.append(struct.pack("<IQ", et, len(v.value)))
        if et in _SCALAR_NP:
            out.append(np.asarray(v.value, dtype=_SCALAR_NP[et]).tobytes())
        elif et == STRING:
            for s in v.value:
                _write_string(out, s)
        elif et == ARRAY:
            for sub in v.value:
                if not isinstance(sub, Value) or sub.type != ARRAY:
                    raise GGUFError("nested array elements must be array Values")
                _write_value(out, sub)
        else:
            raise GGUFError("bad array element type %r" % et)
    else:
        raise GGUFError("bad value type %r" % t)


def write(path, metadata, tensors, alignment=DEFAULT_ALIGNMENT):
    """Write a GGUF v3 file.

    metadata: ordered dict key -> Value (or plain python value, typed automatically).
              general.alignment is added (UINT32) if absent.
    tensors:  list of (name, type_id, dims_innermost_first, raw_bytes).
    The file is written to path + '.partial' then renamed.
    """
    md = dict(metadata)
    if "general.alignment" not in md:
        md["general.alignment"] = u32(alignment)
    alignment = int(_auto_value(md["general.alignment"]).value)
    out = [GGUF_MAGIC, struct.pack("<IQQ", 3, len(tensors), len(md))]
    for k, v in md.items():
        v = _auto_value(v)
        _write_string(out, k)
        out.append(struct.pack("<I", v.type))
        _write_value(out, v)
    offset = 0
    layout = []
    for name, type_id, dims, raw in tensors:
        n = 1
        for d in dims:
            n *= int(d)
        nb = tensor_nbytes(type_id, n)
        if len(raw) != nb:
            raise GGUFError("tensor %r: %d bytes given, %d expected for %s %s" % (name, len(raw), nb, GGML_TYPES[type_id][0], dims))
        _write_string(out, name)
        out.append(struct.pack("<I", len(dims)))
        out.append(struct.pack("<%dQ" % len(dims), *[int(d) for d in dims]))
        out.append(struct.pack("<IQ", type_id, offset))
        layout.append((offset, raw))
        offset = align_up(offset + nb, alignment)
    head = b"".join(out)
    head += b"\0" * (align_up(len(head), alignment) - len(head))
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(head)
        pos = 0
        for off, raw in layout:
            f.write(b"\0" * (off - pos))
            f.write(raw)
            pos = off + len(raw)
        f.write(b"\0" * (align_up(pos, alignment) - pos))
    os.replace(tmp, path)
