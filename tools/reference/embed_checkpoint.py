"""The tiny embedding-model presets of make_hf_checkpoint.py: qwen3 (Qwen3ForCausalLM) and
gemma3_text (Gemma3TextModel) Hugging Face folders as the BitNet embedding releases lay them out.

  * config.json with the public models' keys, sizes made tiny; head_dim != hidden / heads;
  * tensors with or without the "model." prefix; every projection optionally preceded by its
    BitLinear RMSNorm gain `<proj>.norm.weight` (the I2_S students have them, F16 teachers not);
    Gemma 3's own RMSNorm weights stored as w of (1 + w), near 0;
  * a synthetic tokenizer.json of each family (Qwen's byte-level BPE with the qwen2 split pattern
    and a post-processor that appends <|endoftext|>; Gemma's SentencePiece-style BPE with byte
    fallback, <bos> ... <eos>), tokenizer_config.json as the families write it;
  * sentence-transformers' modules.json and 1_Pooling/config.json (last-token pooling by default).
"""
import collections

EMBED_LAYOUTS = ("qwen3", "gemma3")

Tensor = collections.namedtuple("Tensor", "name shape kind")   # as make_hf_checkpoint.Tensor

CONFIG_QWEN3_TINY = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "head_dim": 32,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "max_position_embeddings": 512,
    "max_window_layers": 2,
    "model_type": "qwen3",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 0,    # set from the tokenizer
}

CONFIG_GEMMA3_TINY = {
    "architectures": ["Gemma3TextModel"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "final_logit_softcapping": None,
    "head_dim": 32,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "max_position_embeddings": 512,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 1,
    "query_pre_attn_scalar": 32,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": 4,
    "sliding_window_pattern": 2,     # layers 0 and 2 local, 1 global
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 0,
}

# The released models' shapes (BitNet-embedding-0.6B / -270M), for conversion timings and memory.
CONFIG_QWEN3_06B = dict(CONFIG_QWEN3_TINY, head_dim=128, hidden_size=1024, intermediate_size=3072,
                        max_position_embeddings=32768, max_window_layers=28, num_attention_heads=16,
                        num_hidden_layers=28, num_key_value_heads=8, vocab_size=151936)
CONFIG_GEMMA3_270M = dict(CONFIG_GEMMA3_TINY, head_dim=256, hidden_size=640, intermediate_size=2048,
                          max_position_embeddings=32768, num_attention_heads=4, num_hidden_layers=18,
                          num_key_value_heads=1, query_pre_attn_scalar=256, sliding_window=512,
                          sliding_window_pattern=6, vocab_size=262144)

# Qwen2's (and Qwen3's) Split pattern, exactly as its tokenizer.json writes it.
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")

MERGES = (("t", "h"), ("th", "e"), ("i", "n"), ("a", "t"), ("c", "at"), ("o", "n"), ("e", "r"), ("a", "n"))


def gpt2_byte_alphabet():
    """GPT-2's byte -> character map, in byte order."""
    keep = list(range(0x21, 0x7f)) + list(range(0xa1, 0xad)) + list(range(0xae, 0x100))
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return [out[b] for b in range(256)]


def added(i, text):
    return {"id": i, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def qwen3_tokenizer():
    """(tokenizer.json, tokenizer_config.json, n_tokens): byte-level BPE over GPT-2's alphabet with
    a few merges (the space spelled U+0120 merges too), and Qwen's three specials."""
    vocab = {c: i for i, c in enumerate(gpt2_byte_alphabet())}
    merges = list(MERGES) + [("\u0120", "c"), ("\u0120", "the")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    ids = {t: len(vocab) + k for k, t in enumerate(specials)}
    eos = "<|endoftext|>"
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(ids[t], t) for t in specials],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": eos, "type_id": 1}}],
                           "special_tokens": {eos: {"id": eos, "ids": [ids[eos]], "tokens": [eos]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    cfg = {"add_bos_token": False, "add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>",
           "pad_token": "<|endoftext|>", "unk_token": None, "model_max_length": 32768,
           "tokenizer_class": "Qwen2Tokenizer"}
    return tok, cfg, len(vocab) + len(specials)


def gemma3_tokenizer():
    """(tokenizer.json, tokenizer_config.json, n_tokens): SentencePiece-style BPE with byte
    fallback (spaces become U+2581 in the normalizer, no space prefix), Gemma's specials first."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for c in ["\u2581"] + [chr(c) for c in range(0x21, 0x7f)]:
        vocab.setdefault(c, len(vocab))
    merges = list(MERGES) + [("\u2581", "c"), ("\u2581", "the")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    turn = ["<start_of_turn>", "<end_of_turn>"]
    for t in turn:
        vocab[t] = len(vocab)
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(vocab[t], t) for t in specials + turn],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<eos>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                                    {"SpecialToken": {"id": "<eos>", "type_id": 1}}],
                           "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in ("<bos>", "<eos>")}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    cfg = {"add_bos_token": True, "add_eos_token": True, "bos_token": "<bos>", "eos_token": "<eos>",
           "pad_token": "<pad>", "unk_token": "<unk>", "model_max_length": 2048, "padding_side": "right",
           "spaces_between_special_tokens": False, "tokenizer_class": "GemmaTokenizer"}
    return tok, cfg, len(vocab)


def tokenizer_files(layout):
    return qwen3_tokenizer() if layout == "qwen3" else gemma3_tokenizer()


def sentence_transformers_files(pooling, width):
    """(modules.json, 1_Pooling/config.json) for pooling 'last' / 'mean' / 'cls'."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    pool = {"word_embedding_dimension": width, "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": pooling == "last", "include_prompt": True}
    return modules, pool


def tensor_list(cfg, layout, prefix=True, norm_in=True):
    """Every tensor, sorted by name. Kinds: embed, linear, norm (1 + noise: Qwen's RMSNorm gains and
    the BitLinear gains) and norm0 (noise around 0: Gemma's w of (1 + w))."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    gemma = layout == "gemma3"
    own = "norm0" if gemma else "norm"
    P = "model." if prefix else ""
    out = [Tensor(P + "embed_tokens.weight", (V, H), "embed"), Tensor(P + "norm.weight", (H,), own)]
    for i in range(cfg["num_hidden_layers"]):
        p = P + "layers.%d." % i
        norms = ["input_layernorm", "post_attention_layernorm"]
        if gemma:
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        out += [Tensor(p + n + ".weight", (H,), own) for n in norms]
        out += [Tensor(p + "self_attn.q_norm.weight", (D,), own), Tensor(p + "self_attn.k_norm.weight", (D,), own)]
        for name, shape in (("self_attn.q_proj", (nh * D, H)), ("self_attn.k_proj", (nkv * D, H)),
                            ("self_attn.v_proj", (nkv * D, H)), ("self_attn.o_proj", (H, nh * D)),
                            ("mlp.gate_proj", (I, H)), ("mlp.up_proj", (I, H)), ("mlp.down_proj", (H, I))):
            out.append(Tensor(p + name + ".weight", shape, "linear"))
            if norm_in:
                out.append(Tensor(p + name + ".norm.weight", (shape[1],), "norm"))
    return sorted(out, key=lambda t: t.name)
