#!/usr/bin/env python3
"""tern: a ctypes binding of tern's C API (include/tern/tern.h); Python 3 standard library only.

    import tern
    model = tern.Model("models/tern-tinystories-4m.gguf")
    print(model.info()["architecture"])
    session = tern.Session(model)
    r = session.generate("Once upon a time", n_predict=48, temp=0)
    print(r.text, r.reason)

The shared library is, in this order: the `library` argument of load_library()
(or of the first Model), $TERN_LIBRARY, libtern.so next to this file, or the
newest ../build*/python/libtern.so or ../build*/libtern.so. Failures raise
TernError with the library's message.

Thread safety is the C API's: a Model may be shared by Sessions on several
threads; a Session or Sampler is used by one thread at a time.

Embeddings (an embedding model: one vector per text, as `tern embed` prints them):

    embedder = tern.Embedder(tern.Model("bitnet-embedding.gguf"))
    a, b = embedder.embed(["a cat", "a kitten"])     # texts, or lists of token ids
    print(tern.cosine_similarity(a, b))

Command line: `python3 tern.py MODEL PROMPT [N]` prints the greedy continuation
of PROMPT (N tokens, default 64), like examples/simple.c; `python3 tern.py
--embed MODEL TEXT1 TEXT2` prints both embeddings and their cosine similarity,
like examples/embed.c.
"""

import ctypes
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint64, c_void_p)
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TernError", "Model", "Tokenizer", "Session", "Sampler", "GenerateResult", "Embedder", "cosine_similarity",
           "load_library", "version"]


class TernError(Exception):
    """A failed tern call: str(e) is tern_last_error(), e.status the tern_status code."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- the C structs (same order as tern.h)

class _ModelOptions(Structure):
    _fields_ = [("kernel_table", c_char_p), ("kernel_family", c_char_p), ("ffn_act", c_char_p), ("n_threads", c_int32)]


class _ModelInfo(Structure):
    _fields_ = [("path", c_char_p), ("name", c_char_p), ("architecture", c_char_p),
                ("n_vocab", c_int64), ("n_ctx_train", c_int64), ("n_embd", c_int64), ("n_ff", c_int64),
                ("n_layer", c_int64), ("n_head", c_int64), ("n_head_kv", c_int64), ("head_dim", c_int64),
                ("ffn_act", c_char_p), ("weight_type", c_char_p), ("kernel_table", c_char_p),
                ("kernel_family", c_char_p), ("n_params", c_int64), ("file_size", c_uint64),
                ("has_tokenizer", c_bool)]


class _SessionOptions(Structure):
    _fields_ = [("n_ctx", c_int64), ("n_batch", c_int64), ("n_threads", c_int32), ("kv_f16", c_bool)]


class _SamplingParams(Structure):
    _fields_ = [("temp", c_float), ("top_k", c_int32), ("top_p", c_float), ("min_p", c_float),
                ("repeat_penalty", c_float), ("repeat_last_n", c_int32), ("seed", c_uint64)]


class _GenerateOptions(Structure):
    _fields_ = [("n_predict", c_int64), ("sampling", _SamplingParams),
                ("stop", POINTER(c_char_p)), ("n_stop", c_size_t),
                ("stop_tokens", POINTER(c_int32)), ("n_stop_tokens", c_size_t),
                ("ignore_eos", c_bool), ("render_special", c_bool)]


class _GenerateResult(Structure):
    _fields_ = [("reason", c_int), ("n_prompt", c_int64), ("n_generated", c_int64),
                ("prompt_seconds", c_double), ("generate_seconds", c_double)]


class _EmbedderOptions(Structure):
    _fields_ = [("pooling", c_int), ("normalize", c_int32), ("n_ctx", c_int64), ("n_batch", c_int64),
                ("n_threads", c_int32), ("kv_f16", c_bool)]


_PieceCallback = CFUNCTYPE(c_int, POINTER(c_char), c_size_t, c_int32, c_void_p)

_TERN_OK = 0
_TERN_ERR_BUFFER_TOO_SMALL = 2
_STOP_REASONS = ["eos", "length", "stop_string", "context_full", "cancelled"]
_POOLINGS = ["none", "mean", "cls", "last"]  # tern_pooling 0..3

# name: (restype, argtypes); a restype of c_int is a tern_status.
_SIGNATURES = {
    "tern_last_error": (c_char_p, []),
    "tern_version": (c_char_p, []),
    "tern_model_options_default": (_ModelOptions, []),
    "tern_model_load": (c_int, [c_char_p, POINTER(_ModelOptions), POINTER(c_void_p)]),
    "tern_model_free": (None, [c_void_p]),
    "tern_model_get_info": (c_int, [c_void_p, POINTER(_ModelInfo)]),
    "tern_tokenizer_from_model": (c_int, [c_void_p, POINTER(c_void_p)]),
    "tern_tokenizer_free": (None, [c_void_p]),
    "tern_tokenize": (c_int, [c_void_p, c_char_p, c_size_t, c_bool, c_bool, POINTER(c_int32), c_size_t,
                              POINTER(c_size_t)]),
    "tern_detokenize": (c_int, [c_void_p, POINTER(c_int32), c_size_t, c_bool, c_char_p, c_size_t,
                                POINTER(c_size_t)]),
    "tern_tokenizer_n_vocab": (c_int32, [c_void_p]),
    "tern_token_bos": (c_int32, [c_void_p]),
    "tern_token_eos": (c_int32, [c_void_p]),
    "tern_token_eot": (c_int32, [c_void_p]),
    "tern_token_is_eog": (c_bool, [c_void_p, c_int32]),
    "tern_session_options_default": (_SessionOptions, []),
    "tern_session_create": (c_int, [c_void_p, POINTER(_SessionOptions), POINTER(c_void_p)]),
    "tern_session_free": (None, [c_void_p]),
    "tern_session_eval": (c_int, [c_void_p, POINTER(c_int32), c_size_t, c_bool]),
    "tern_session_logits": (POINTER(c_float), [c_void_p, c_int64]),
    "tern_session_n_past": (c_int64, [c_void_p]),
    "tern_session_n_ctx": (c_int64, [c_void_p]),
    "tern_session_n_vocab": (c_int64, [c_void_p]),
    "tern_session_truncate": (c_int, [c_void_p, c_int64]),
    "tern_session_save": (c_int, [c_void_p, c_char_p]),
    "tern_session_load": (c_int, [c_void_p, c_char_p]),
    "tern_sampling_params_default": (_SamplingParams, []),
    "tern_sampler_create": (c_int, [POINTER(_SamplingParams), POINTER(c_void_p)]),
    "tern_sampler_free": (None, [c_void_p]),
    "tern_sampler_sample": (c_int, [c_void_p, POINTER(c_float), c_int64, POINTER(c_int32)]),
    "tern_sampler_accept": (c_int, [c_void_p, c_int32]),
    "tern_sampler_reset": (c_int, [c_void_p]),
    "tern_generate_options_default": (_GenerateOptions, []),
    "tern_generate": (c_int, [c_void_p, c_void_p, POINTER(c_int32), c_size_t, POINTER(_GenerateOptions),
                              _PieceCallback, c_void_p, c_void_p, POINTER(_GenerateResult)]),
    "tern_chat_render": (c_int, [c_void_p, c_void_p, c_char_p, POINTER(c_char_p), POINTER(c_char_p), c_size_t,
                                 POINTER(c_int32), c_size_t, POINTER(c_size_t)]),
    "tern_embedder_options_default": (_EmbedderOptions, []),
    "tern_embedder_create": (c_int, [c_void_p, POINTER(_EmbedderOptions), POINTER(c_void_p)]),
    "tern_embedder_free": (None, [c_void_p]),
    "tern_embedder_n_embd": (c_int64, [c_void_p]),
    "tern_embedder_n_ctx": (c_int64, [c_void_p]),
    "tern_embedder_pooling": (c_int, [c_void_p]),
    "tern_embed_tokens": (c_int, [c_void_p, POINTER(POINTER(c_int32)), POINTER(c_size_t), c_size_t,
                                  POINTER(c_float), c_size_t, POINTER(c_size_t)]),
    "tern_embed_texts": (c_int, [c_void_p, c_void_p, POINTER(c_char_p), c_size_t, POINTER(c_float), c_size_t,
                                 POINTER(c_size_t)]),
    "tern_cosine_similarity": (c_float, [POINTER(c_float), POINTER(c_float), c_size_t]),
}

_lib = None


def _candidates():
    here = Path(__file__).resolve().parent
    yield here / "libtern.so"
    built = [p for pattern in ("build*/python/libtern.so", "build*/libtern.so") for p in here.parent.glob(pattern)]
    yield from sorted(built, key=lambda p: p.stat().st_mtime, reverse=True)


def load_library(path=None):
    """Loads libtern (see the module's doc for where it is looked for); returns the ctypes.CDLL."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    path = path or os.environ.get("TERN_LIBRARY")
    if path:
        found = Path(path)
        if not found.exists():
            raise TernError(f"{path}: no such file (the tern shared library)")
    else:
        found = next((p for p in _candidates() if p.exists()), None)
        if found is None:
            raise TernError("libtern.so not found: set TERN_LIBRARY, or build it "
                            "(cmake --build build --target tern_shared writes build/python/libtern.so)")
    lib = ctypes.CDLL(str(found))
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    _lib = lib
    return lib


def version():
    return load_library().tern_version().decode()


def _check(lib, status):
    if status != _TERN_OK:
        raise TernError(lib.tern_last_error().decode("utf-8", "replace"), status)


def _ids_array(ids):
    ids = list(ids)
    return (c_int32 * len(ids))(*ids), len(ids)


def _bytes(text):
    # Command-line text comes with surrogate escapes for undecodable bytes: give those bytes back.
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


def _sampling(temp=0.8, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0, repeat_last_n=64, seed=0):
    return _SamplingParams(temp, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed)


class _Handle:
    """Owns one C handle, freed by close(), `with`, or garbage collection."""
    _free = None

    def __init__(self, lib, handle):
        self._lib, self._h = lib, handle

    def close(self):
        if getattr(self, "_h", None):
            getattr(self._lib, self._free)(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._h:
            raise TernError(f"this {type(self).__name__} is closed")
        return self._h


class Model(_Handle):
    """A loaded GGUF model. Sessions and tokenizers keep its weights alive after close()."""
    _free = "tern_model_free"

    def __init__(self, path, kernel_table=None, kernel_family=None, ffn_act=None, n_threads=0, library=None):
        lib = load_library(library)
        o = lib.tern_model_options_default()
        o.kernel_table = kernel_table and kernel_table.encode()
        o.kernel_family = kernel_family and kernel_family.encode()
        o.ffn_act = ffn_act and ffn_act.encode()
        o.n_threads = n_threads
        h = c_void_p()
        _check(lib, lib.tern_model_load(os.fsencode(path), ctypes.byref(o), ctypes.byref(h)))
        super().__init__(lib, h)
        self._tokenizer = None

    def info(self):
        """What the model is, as a dict (path, architecture, n_vocab, n_layer, weight_type, ...)."""
        i = _ModelInfo()
        _check(self._lib, self._lib.tern_model_get_info(self._handle(), ctypes.byref(i)))
        return {name: (v.decode() if isinstance(v, bytes) else v)
                for name, v in ((f[0], getattr(i, f[0])) for f in _ModelInfo._fields_)}

    @property
    def tokenizer(self):
        """The model's vocabulary (a Tokenizer, made once)."""
        if self._tokenizer is None:
            h = c_void_p()
            _check(self._lib, self._lib.tern_tokenizer_from_model(self._handle(), ctypes.byref(h)))
            self._tokenizer = Tokenizer(self._lib, h)
        return self._tokenizer

    def chat_tokenize(self, messages, template=None):
        """[(role, content), ...] (or dicts with those keys), ending in a user turn -> prompt ids
        for the assistant's reply, with the model's chat template or a named one."""
        pairs = [(m["role"], m["content"]) if isinstance(m, dict) else m for m in messages]
        roles = (c_char_p * len(pairs))(*[_bytes(r) for r, _ in pairs])
        contents = (c_char_p * len(pairs))(*[_bytes(c) for _, c in pairs])
        tok, name = self.tokenizer, template and template.encode()

        def call(buf, cap, n):
            return self._lib.tern_chat_render(self._handle(), tok._handle(), name, roles, contents, len(pairs),
                                              buf, cap, n)
        return _fill_ids(self._lib, call)


def _fill_ids(lib, call):
    """The C API's buffer convention: ask for the count, then fill a buffer that large."""
    n = c_size_t(0)
    status = call(None, 0, ctypes.byref(n))
    if status == _TERN_ERR_BUFFER_TOO_SMALL:
        buf = (c_int32 * n.value)()
        status = call(buf, n.value, ctypes.byref(n))
        _check(lib, status)
        return list(buf[:n.value])
    _check(lib, status)
    return []


class Tokenizer(_Handle):
    """Text <-> token ids. Get one from Model.tokenizer."""
    _free = "tern_tokenizer_free"

    def encode(self, text, add_bos=True, parse_special=False):
        data = _bytes(text)

        def call(buf, cap, n):
            return self._lib.tern_tokenize(self._handle(), data, len(data), add_bos, parse_special, buf, cap, n)
        return _fill_ids(self._lib, call)

    def decode_bytes(self, ids, render_special=False):
        arr, n = _ids_array(ids)
        size = c_size_t(0)
        status = self._lib.tern_detokenize(self._handle(), arr, n, render_special, None, 0, ctypes.byref(size))
        if status != _TERN_ERR_BUFFER_TOO_SMALL:
            _check(self._lib, status)
        buf = ctypes.create_string_buffer(size.value + 1)
        _check(self._lib, self._lib.tern_detokenize(self._handle(), arr, n, render_special, buf, len(buf),
                                                    ctypes.byref(size)))
        return buf.raw[:size.value]

    def decode(self, ids, render_special=False):
        return self.decode_bytes(ids, render_special).decode("utf-8", "replace")

    @property
    def n_vocab(self):
        return self._lib.tern_tokenizer_n_vocab(self._handle())

    @property
    def bos(self):
        return self._lib.tern_token_bos(self._handle())

    @property
    def eos(self):
        return self._lib.tern_token_eos(self._handle())

    @property
    def eot(self):
        return self._lib.tern_token_eot(self._handle())

    def is_eog(self, token):
        return self._lib.tern_token_is_eog(self._handle(), token)


class Sampler(_Handle):
    """Picks tokens from logits; keeps its repetition window across generate() calls."""
    _free = "tern_sampler_free"

    def __init__(self, library=None, **params):
        """params: temp, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed (the library's defaults)."""
        lib = load_library(library)
        p = _sampling(**params)
        h = c_void_p()
        _check(lib, lib.tern_sampler_create(ctypes.byref(p), ctypes.byref(h)))
        super().__init__(lib, h)

    def sample(self, logits):
        arr = (c_float * len(logits))(*logits)
        out = c_int32()
        _check(self._lib, self._lib.tern_sampler_sample(self._handle(), arr, len(logits), ctypes.byref(out)))
        return out.value

    def accept(self, token):
        _check(self._lib, self._lib.tern_sampler_accept(self._handle(), token))

    def reset(self):
        _check(self._lib, self._lib.tern_sampler_reset(self._handle()))


@dataclass
class GenerateResult:
    text: str
    reason: str  # "eos", "length", "stop_string", "context_full", "cancelled"
    n_prompt: int
    n_generated: int
    prompt_seconds: float
    generate_seconds: float


class Session(_Handle):
    """One sequence: its KV cache and logits. Used by one thread at a time."""
    _free = "tern_session_free"

    def __init__(self, model, n_ctx=0, n_batch=512, n_threads=0, kv_f16=False):
        lib = model._lib
        o = _SessionOptions(n_ctx, n_batch, n_threads, kv_f16)
        h = c_void_p()
        _check(lib, lib.tern_session_create(model._handle(), ctypes.byref(o), ctypes.byref(h)))
        super().__init__(lib, h)
        self.tokenizer = model.tokenizer if model.info()["has_tokenizer"] else None

    def eval(self, ids, all_logits=False):
        arr, n = _ids_array(ids)
        _check(self._lib, self._lib.tern_session_eval(self._handle(), arr, n, all_logits))

    def logits(self, i=-1):
        """The logits of evaluated token i of the last eval (a list of n_vocab floats)."""
        p = self._lib.tern_session_logits(self._handle(), i)
        if not p:
            raise TernError(self._lib.tern_last_error().decode("utf-8", "replace"))
        return p[:self.n_vocab]

    @property
    def n_past(self):
        return self._lib.tern_session_n_past(self._handle())

    @property
    def n_ctx(self):
        return self._lib.tern_session_n_ctx(self._handle())

    @property
    def n_vocab(self):
        return self._lib.tern_session_n_vocab(self._handle())

    def truncate(self, n):
        _check(self._lib, self._lib.tern_session_truncate(self._handle(), n))

    def save(self, path):
        _check(self._lib, self._lib.tern_session_save(self._handle(), os.fsencode(path)))

    def load(self, path):
        _check(self._lib, self._lib.tern_session_load(self._handle(), os.fsencode(path)))

    def generate(self, prompt, n_predict=-1, stop=(), stop_tokens=(), ignore_eos=False, render_special=False,
                 on_piece=None, sampler=None, add_bos=True, **sampling):
        """Continues the session with `prompt` (text, tokenized with BOS as `tern run` does, or a list of
        ids). on_piece(piece: bytes, token: int) is called as text becomes final; returning False stops.
        sampling: temp, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed (used without a sampler)."""
        if isinstance(prompt, (str, bytes)):
            if self.tokenizer is None:
                raise TernError("this model has no tokenizer: give the prompt as token ids")
            prompt = self.tokenizer.encode(prompt, add_bos=add_bos)
        arr, n = _ids_array(prompt)
        o = self._lib.tern_generate_options_default()
        o.n_predict = n_predict
        o.sampling = _sampling(**sampling)
        stops = (c_char_p * len(stop))(*[_bytes(s) for s in stop])
        o.stop, o.n_stop = stops, len(stop)
        stop_ids, o.n_stop_tokens = _ids_array(stop_tokens)
        o.stop_tokens = stop_ids
        o.ignore_eos, o.render_special = ignore_eos, render_special

        pieces, error = [], []

        def callback(piece, length, token, _user):
            try:
                data = ctypes.string_at(piece, length) if length else b""
                pieces.append(data)
                return 0 if on_piece is not None and on_piece(data, token) is False else 1
            except BaseException as e:  # an exception must not cross into C: stop, re-raise below
                error.append(e)
                return 0

        r = _GenerateResult()
        status = self._lib.tern_generate(self._handle(), self.tokenizer and self.tokenizer._handle(), arr, n,
                                         ctypes.byref(o), _PieceCallback(callback), None,
                                         sampler and sampler._handle(), ctypes.byref(r))
        if error:
            raise error[0]
        _check(self._lib, status)
        return GenerateResult(b"".join(pieces).decode("utf-8", "replace"), _STOP_REASONS[r.reason], r.n_prompt,
                              r.n_generated, r.prompt_seconds, r.generate_seconds)


class Embedder(_Handle):
    """Embeddings of texts or token lists (tern_embedder). Used by one thread at a time."""
    _free = "tern_embedder_free"

    def __init__(self, model, pooling=None, normalize=2, n_ctx=0, n_batch=512, n_threads=0, kv_f16=False):
        """pooling: None (the file's, else "last"), "none", "mean", "cls" or "last"; normalize: -1 none,
        0 max-abs to the int16 range, 1 taxicab, 2 euclidean, > 2 p-norm (llama-embedding's --embd-normalize)."""
        lib = model._lib
        if pooling is not None and pooling not in _POOLINGS:
            raise TernError(f"pooling {pooling!r} is not one of {', '.join(_POOLINGS)} (or None: the file's)")
        o = _EmbedderOptions(-1 if pooling is None else _POOLINGS.index(pooling), normalize, n_ctx, n_batch,
                             n_threads, kv_f16)
        h = c_void_p()
        _check(lib, lib.tern_embedder_create(model._handle(), ctypes.byref(o), ctypes.byref(h)))
        super().__init__(lib, h)
        self.tokenizer = model.tokenizer if model.info()["has_tokenizer"] else None

    @property
    def n_embd(self):
        return self._lib.tern_embedder_n_embd(self._handle())

    @property
    def n_ctx(self):
        return self._lib.tern_embedder_n_ctx(self._handle())

    @property
    def pooling(self):
        return _POOLINGS[self._lib.tern_embedder_pooling(self._handle())]

    def embed(self, inputs):
        """A list of texts (tokenized as `tern embed` does) or of token-id lists -> one list of n_embd
        floats per input, all embedded in one call. With pooling "none": per input, one such list per token."""
        inputs, d = list(inputs), self.n_embd

        def rows(flat):
            return [flat[i:i + d] for i in range(0, len(flat), d)]
        if self.pooling == "none":  # embedded one input at a time, so that the rows split by input
            return [rows(self._embed_flat([x])) for x in inputs]
        return rows(self._embed_flat(inputs))

    def _embed_flat(self, inputs):
        if all(isinstance(x, (str, bytes)) for x in inputs):
            if self.tokenizer is None:
                raise TernError("this model has no tokenizer: give the inputs as token ids")
            texts = (c_char_p * len(inputs))(*[_bytes(t) for t in inputs])

            def call(buf, cap, n):
                return self._lib.tern_embed_texts(self._handle(), self.tokenizer._handle(), texts, len(inputs),
                                                  buf, cap, n)
        else:
            arrays = [_ids_array(ids) for ids in inputs]
            ptrs = (POINTER(c_int32) * len(arrays))(*[ctypes.cast(a, POINTER(c_int32)) for a, _ in arrays])
            counts = (c_size_t * len(arrays))(*[n for _, n in arrays])

            def call(buf, cap, n):
                return self._lib.tern_embed_tokens(self._handle(), ptrs, counts, len(arrays), buf, cap, n)
        # The C API's buffer convention: ask for the size, then fill a buffer that large.
        n = c_size_t(0)
        status = call(None, 0, ctypes.byref(n))
        if status == _TERN_ERR_BUFFER_TOO_SMALL:
            buf = (c_float * n.value)()
            status = call(buf, n.value, ctypes.byref(n))
            _check(self._lib, status)
            return buf[:n.value]
        _check(self._lib, status)
        return []


def cosine_similarity(a, b):
    """Cosine similarity as llama.cpp computes it (sums in double)."""
    if len(a) != len(b):
        raise TernError(f"cosine_similarity: vectors of {len(a)} and {len(b)} values")
    fa, fb = (c_float * len(a))(*a), (c_float * len(b))(*b)
    return load_library().tern_cosine_similarity(fa, fb, len(a))


def _embed_main(argv):
    """--embed MODEL TEXT1 TEXT2: as examples/embed.c prints them."""
    embedder = Embedder(Model(argv[0]))
    a, b = embedder.embed(argv[1:3])
    for e in (a, b):
        print("[" + ",".join(f"{v:.7f}" for v in e) + "]")
    print(f"cosine similarity: {cosine_similarity(a, b):.6f}")


def main(argv):
    if len(argv) == 5 and argv[1] == "--embed":
        try:
            _embed_main(argv[2:])
        except TernError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) not in (3, 4):
        print(f"usage: {argv[0]} MODEL PROMPT [N]\n       {argv[0]} --embed MODEL TEXT1 TEXT2", file=sys.stderr)
        return 2
    try:
        model = Model(argv[1])
        session = Session(model)
        out = sys.stdout.buffer  # the bytes as generated, whatever the locale

        def emit(piece, _token):
            out.write(piece)
            out.flush()

        session.generate(argv[2], n_predict=int(argv[3]) if len(argv) > 3 else 64, temp=0, on_piece=emit)
        out.write(b"\n")
        out.flush()
    except TernError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
