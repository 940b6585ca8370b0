#!/usr/bin/env python3
"""Synthetic Hugging Face BitNet checkpoints: random weights, the real models' names and shapes.

  /usr/bin/python3 tools/reference/make_hf_checkpoint.py --preset tiny --out DIR \\
      [--tokenizer-dir TOKDIR] [--seed 1234] [--dtype bf16|f16|f32] \\
      [--linear-std 0.02] [--embed-std 0.02] [--norm-noise 0.02] \\
      [--max-shard-bytes N] [--no-inv-freq]
  /usr/bin/python3 tools/reference/make_hf_checkpoint.py --preset qwen3-tiny|gemma3-tiny --out DIR \\
      [--no-model-prefix] [--no-norm-in] [--pooling last|mean|cls] [--layer-types] [...]

Presets (config.json as the public repositories publish it, sizes changed only for tiny):
  tiny   BitNetForCausalLM, the microsoft 2B4T layout (attn_sub_norm / ffn_sub_norm):
         hidden 256, intermediate 704, 4 layers, 8 heads, 2 kv heads, vocab 128256,
         tied embeddings, relu2, rope_theta 500000.
  2b4t   microsoft/bitnet-b1.58-2B-4T-bf16: 2560 / 6912 / 30 layers / 20 heads / 5 kv heads,
         vocab 128256, tied (about 4.8 GB in bf16).
  large  1bitLLM/bitnet_b1_58-large (BitnetForCausalLM, inner_attn_ln / ffn_layernorm,
         self_attn.rotary_emb.inv_freq buffers unless --no-inv-freq): 1536 / 4096 / 24 / 16 / 16,
         vocab 32002, tied, silu, rope_theta 10000.
  qwen3-tiny, gemma3-tiny
         the BitNet embedding models' layouts (embed_checkpoint.py): Qwen3ForCausalLM (hidden 64,
         2 layers, 4 heads of 32, 2 kv heads) and Gemma3TextModel (hidden 64, 3 layers, 4 heads
         of 32, 1 kv head, sliding window 4 with pattern 2, or --layer-types); a BitLinear RMSNorm
         gain `<proj>.norm.weight` before every projection unless --no-norm-in (an F16 teacher);
         names with "model." unless --no-model-prefix; a synthetic tokenizer.json of the family
         (unless --tokenizer-dir), modules.json and 1_Pooling/config.json (--pooling, default last).
         Gemma's own RMSNorm weights are w of (1 + w): N(0, norm_noise).
  qwen3-0.6b, gemma3-270m
         the same at the released shapes (1024 / 3072 / 28 layers / 16 heads of 128 / 8 kv,
         vocab 151936; 640 / 2048 / 18 layers / 4 heads of 256 / 1 kv, window 512 every 6th
         layer global, vocab 262144), the tiny tokenizer padded to the vocabulary: for
         conversion time and memory (1.2 GB and 0.54 GB in bf16).

Values: linear weights N(0, linear_std), the embedding N(0, embed_std), RMSNorm gains
1 + N(0, norm_noise); inv_freq is the exact 1 / theta^(2i / head_dim), stored F32.
Every tensor draws float32 standard normals from its own numpy default_rng([seed, crc32(name)])
in chunks of CHUNK elements, so its values do not depend on which other tensors exist or on
the order they are written in. BF16 is float32 rounded to nearest even (formats.encode_bf16),
F16 is numpy's round-to-nearest-even cast.

Output folder: config.json, generation_config.json, model.safetensors (or, with
--max-shard-bytes N > 0, model-0000i-of-0000n.safetensors shards of at most N data bytes each,
unless one tensor alone is larger, plus model.safetensors.index.json), SYNTHETIC_INFO.json,
and with --tokenizer-dir the tokenizer files (see TOKENIZER_FILES). Tensors are sorted by
name, as the Hugging Face writers store them. Each file is streamed to NAME.partial and
renamed when complete, so a reader never sees a half-written file; the 2b4t preset is never
held in memory. A one-line JSON summary goes to stdout.
Files an earlier run left in --out (weights, shards, index, configs, tokenizer files) are
removed first; other files there are left alone.

Tokenizer: tokenizer.json, tokenizer.model, special_tokens_map.json and added_tokens.json are
copied from --tokenizer-dir when present. For tiny and 2b4t, tokenizer_config.json is
written here as microsoft/bitnet-b1.58-2B-4T has it (bos <|begin_of_text|>, eos <|eot_id|>,
its "Role: content<|eot_id|>" chat template), whatever the tokenizer folder holds: a
LLaMA-3 tokenizer folder carries Meta's config (eos <|end_of_text|>, the LLaMA-3 template).
For large, tokenizer_config.json is copied from the folder if it has one.

numpy and the standard library only; no torch, no safetensors package.
"""
import argparse
import collections
import json
import os
import shutil
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import embed_checkpoint as EC  # noqa: E402
import formats as F  # noqa: E402

CHUNK = 1 << 22          # elements drawn per step (16 MiB of float32)

# --dtype -> (safetensors dtype, bytes per element, float32 chunk -> little-endian bytes)
STORAGE = {
    "bf16": ("BF16", 2, F.encode_bf16),
    "f16": ("F16", 2, F.encode_f16),
    "f32": ("F32", 4, F.encode_f32),
}
TORCH_DTYPE = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}

# --------------------------------------------------------------------------- public configs

# microsoft/bitnet-b1.58-2B-4T-bf16 config.json (key order as published).
CONFIG_2B4T = {
    "architectures": ["BitNetForCausalLM"],
    "auto_map": {
        "AutoConfig": "configuration_bitnet.BitNetConfig",
        "AutoModelForCausalLM": "modeling_bitnet.BitNetForCausalLM",
    },
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "hidden_act": "relu2",
    "hidden_size": 2560,
    "initializer_range": 0.02,
    "intermediate_size": 6912,
    "max_position_embeddings": 4096,
    "model_type": "bitnet",
    "rms_norm_eps": 1e-05,
    "num_attention_heads": 20,
    "num_hidden_layers": 30,
    "num_key_value_heads": 5,
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 128256,
    "quantization_config": {
        "quant_method": "bitnet",
        "linear_class": "autobitlinear",
        "quantization_mode": "online",
    },
}

# 1bitLLM/bitnet_b1_58-large config.json.
CONFIG_LARGE = {
    "architectures": ["BitnetForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 1536,
    "initializer_range": 0.02,
    "input_bits": 8,
    "intermediate_size": 4096,
    "max_position_embeddings": 2048,
    "model_type": "llama",
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "num_key_value_heads": 16,
    "pad_token_id": 32000,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 32002,
    "weight_bits": 1,
}

# microsoft/bitnet-b1.58-2B-4T tokenizer_config.json: the keys tern's converter and tokenizer
# read (bos_token, eos_token, add_bos_token, chat_template) plus the plain settings of the
# published file. Its added_tokens_decoder is left out: for a tokenizer.json vocabulary the
# special tokens come from tokenizer.json's added_tokens.
CHAT_TEMPLATE_2B4T = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = message['role'] | capitalize + ': '+ message['content'] | trim + '<|eot_id|>' %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"
)
TOKENIZER_CONFIG_2B4T = {
    "add_bos_token": True,
    "bos_token": "<|begin_of_text|>",
    "chat_template": CHAT_TEMPLATE_2B4T,
    "clean_up_tokenization_spaces": True,
    "eos_token": "<|eot_id|>",
    "model_input_names": ["input_ids", "attention_mask"],
    "model_max_length": 1000000000000000019884624838656,
    "tokenizer_class": "PreTrainedTokenizerFast",
}

# Copied from --tokenizer-dir when present (tokenizer_config.json too, for presets that do not
# write their own).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json")

Preset = collections.namedtuple("Preset", "config layout generation tokenizer_config")


def _copy(d):
    return json.loads(json.dumps(d))


def _tiny_config():
    c = _copy(CONFIG_2B4T)
    del c["auto_map"]   # a test model: no remote modelling code to point at
    c.update(hidden_size=256, intermediate_size=704, num_hidden_layers=4,
             num_attention_heads=8, num_key_value_heads=2)
    return c


PRESETS = {
    "tiny": Preset(_tiny_config, "2b4t",
                   {"_from_model_config": True, "bos_token_id": 128000,
                    "eos_token_id": [128001, 128009], "max_length": 4096},
                   TOKENIZER_CONFIG_2B4T),
    "2b4t": Preset(lambda: _copy(CONFIG_2B4T), "2b4t",
                   {"bos_token_id": 128000, "do_sample": True, "eos_token_id": [128001, 128009],
                    "max_length": 4096, "temperature": 0.6, "top_p": 0.9},
                   TOKENIZER_CONFIG_2B4T),
    "large": Preset(lambda: _copy(CONFIG_LARGE), "1bitllm",
                    {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                     "pad_token_id": 32000},
                    None),
    "qwen3-tiny": Preset(lambda: _copy(EC.CONFIG_QWEN3_TINY), "qwen3", None, None),
    "gemma3-tiny": Preset(lambda: _copy(EC.CONFIG_GEMMA3_TINY), "gemma3", None, None),
    "qwen3-0.6b": Preset(lambda: _copy(EC.CONFIG_QWEN3_06B), "qwen3", None, None),
    "gemma3-270m": Preset(lambda: _copy(EC.CONFIG_GEMMA3_270M), "gemma3", None, None),
}

# Sub-norm tensor names per layout: (after attention, inside the FFN).
SUB_NORMS = {"2b4t": ("self_attn.attn_sub_norm", "mlp.ffn_sub_norm"),
             "1bitllm": ("self_attn.inner_attn_ln", "mlp.ffn_layernorm")}

# --------------------------------------------------------------------------- tensor list

Tensor = collections.namedtuple("Tensor", "name shape kind")   # kind: embed / linear / norm / inv_freq


def tensor_list(cfg, layout, inv_freq=True, prefix=True, norm_in=True):
    """Every tensor of the checkpoint, sorted by name."""
    if layout in EC.EMBED_LAYOUTS:
        return [Tensor(*t) for t in EC.tensor_list(cfg, layout, prefix, norm_in)]
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    D = cfg.get("head_dim") or H // nh
    q, kv = nh * D, nkv * D
    attn_sub, ffn_sub = SUB_NORMS[layout]
    # The 2B4T attention sub-norm sits on the concatenated heads (q width); 1bitLLM's on hidden.
    attn_sub_width = q if layout == "2b4t" else H
    out = [Tensor("model.embed_tokens.weight", (V, H), "embed"),
           Tensor("model.norm.weight", (H,), "norm")]
    if not cfg.get("tie_word_embeddings", False):
        out.append(Tensor("lm_head.weight", (V, H), "embed"))
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        out += [Tensor(p + "input_layernorm.weight", (H,), "norm"),
                Tensor(p + "post_attention_layernorm.weight", (H,), "norm"),
                Tensor(p + attn_sub + ".weight", (attn_sub_width,), "norm"),
                Tensor(p + ffn_sub + ".weight", (I,), "norm")]
        for name, shape in (("self_attn.q_proj", (q, H)), ("self_attn.k_proj", (kv, H)),
                            ("self_attn.v_proj", (kv, H)), ("self_attn.o_proj", (H, q)),
                            ("mlp.gate_proj", (I, H)), ("mlp.up_proj", (I, H)),
                            ("mlp.down_proj", (H, I))):
            out.append(Tensor(p + name + ".weight", shape, "linear"))
        if layout == "1bitllm" and inv_freq:
            out.append(Tensor(p + "self_attn.rotary_emb.inv_freq", (D // 2,), "inv_freq"))
    return sorted(out, key=lambda t: t.name)


def n_elements(t):
    return int(np.prod(t.shape, dtype=np.int64))


def storage_of(t, dtype):
    return "f32" if t.kind == "inv_freq" else dtype


def n_bytes(t, dtype):
    return n_elements(t) * STORAGE[storage_of(t, dtype)][1]


# --------------------------------------------------------------------------- values


def float32_chunks(t, opts, cfg):
    """Yield the tensor's values, row-major, as float32 arrays of at most CHUNK elements."""
    if t.kind == "inv_freq":
        half = t.shape[0]
        theta = float(cfg.get("rope_theta", 10000.0))
        yield (1.0 / theta ** (np.arange(half, dtype=np.float64) * 2.0 / (2 * half))).astype(np.float32)
        return
    scale, shift = {"linear": (opts.linear_std, 0.0), "embed": (opts.embed_std, 0.0),
                    "norm": (opts.norm_noise, 1.0), "norm0": (opts.norm_noise, 0.0)}[t.kind]
    scale, shift = np.float32(scale), np.float32(shift)
    rng = np.random.default_rng([opts.seed, zlib.crc32(t.name.encode("utf-8"))])
    left = n_elements(t)
    while left > 0:
        z = rng.standard_normal(min(CHUNK, left), dtype=np.float32)
        z *= scale
        if shift:
            z += shift
        left -= z.size
        yield z


# --------------------------------------------------------------------------- safetensors


def safetensors_header(tensors, dtype, metadata):
    """The padded JSON header (8-byte aligned data) and the data size for these tensors."""
    header = {"__metadata__": metadata}
    pos = 0
    for t in tensors:
        size = n_bytes(t, dtype)
        header[t.name] = {"dtype": STORAGE[storage_of(t, dtype)][0], "shape": list(t.shape),
                          "data_offsets": [pos, pos + size]}
        pos += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return raw, pos


def write_safetensors(path, tensors, opts, cfg):
    """Stream the tensors into one safetensors file (PATH.partial, renamed when complete).
    Returns the number of data bytes."""
    header, data_size = safetensors_header(tensors, opts.dtype, {"format": "pt"})
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(len(header).to_bytes(8, "little"))
        f.write(header)
        for t in tensors:
            encode = STORAGE[storage_of(t, opts.dtype)][2]
            start = f.tell()
            for z in float32_chunks(t, opts, cfg):
                f.write(encode(z))
            if f.tell() - start != n_bytes(t, opts.dtype):
                raise RuntimeError("%s: wrote %d bytes, expected %d" % (t.name, f.tell() - start,
                                                                       n_bytes(t, opts.dtype)))
    if os.path.getsize(tmp) != 8 + len(header) + data_size:
        raise RuntimeError("%s: unexpected file size" % tmp)
    os.replace(tmp, path)
    return data_size


def split_shards(tensors, dtype, max_bytes):
    """Greedy, in order: start a new shard when the next tensor would pass max_bytes."""
    shards, size = [[]], 0
    for t in tensors:
        b = n_bytes(t, dtype)
        if shards[-1] and size + b > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(t)
        size += b
    return shards


OWN_FILES = ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json",
             "SYNTHETIC_INFO.json", "tokenizer_config.json", "modules.json") + TOKENIZER_FILES


def remove_old_outputs(out):
    """Drop the files an earlier run may have left (a stale index or shard would be read, a stale
    tokenizer file used); nothing else in the folder is touched."""
    for fn in os.listdir(out):
        stem = fn[:-len(".partial")] if fn.endswith(".partial") else fn
        if stem in OWN_FILES or (stem.startswith("model-") and stem.endswith(".safetensors") and "-of-" in stem):
            if os.path.isfile(os.path.join(out, fn)):
                os.remove(os.path.join(out, fn))


# --------------------------------------------------------------------------- other files


def write_json(path, obj, sort_keys=False):
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=sort_keys, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def add_tokenizer(out, tok_dir, preset):
    """Copy the tokenizer files; write or copy tokenizer_config.json. Returns {file: source}."""
    done = {}
    names = list(TOKENIZER_FILES) + ([] if preset.tokenizer_config else ["tokenizer_config.json"])
    for fn in names:
        src = os.path.join(tok_dir, fn)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out, fn))
            done[fn] = "copied"
    if not any(fn in done for fn in ("tokenizer.json", "tokenizer.model")):
        print("warning: %s has neither tokenizer.json nor tokenizer.model" % tok_dir, file=sys.stderr)
    if preset.tokenizer_config:
        write_json(os.path.join(out, "tokenizer_config.json"), preset.tokenizer_config)
        done["tokenizer_config.json"] = "written (microsoft/bitnet-b1.58-2B-4T)"
    return done


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Write a synthetic (random-weight, real-shape) Hugging Face BitNet checkpoint.",
        epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True, help="model shape and config")
    ap.add_argument("--out", required=True,
                    help="output folder (created; files of an earlier run in it are replaced)")
    ap.add_argument("--tokenizer-dir", help="folder to take tokenizer.json / tokenizer.model / "
                                            "special_tokens_map.json from")
    ap.add_argument("--seed", type=int, default=1234, help="base seed (default 1234)")
    ap.add_argument("--dtype", choices=sorted(STORAGE), default="bf16",
                    help="storage type of every tensor but inv_freq (default bf16)")
    ap.add_argument("--linear-std", type=float, default=0.02, help="std of linear weights (default 0.02)")
    ap.add_argument("--embed-std", type=float, default=0.02, help="std of the embedding (default 0.02)")
    ap.add_argument("--norm-noise", type=float, default=0.02,
                    help="RMSNorm gains are 1 + N(0, this) (default 0.02)")
    ap.add_argument("--max-shard-bytes", type=int, default=0, metavar="N",
                    help="0 (default): one model.safetensors, as the public repositories; else shards "
                         "model-0000i-of-0000n.safetensors of at most N data bytes + index.json")
    ap.add_argument("--no-inv-freq", action="store_true",
                    help="large preset: leave out the self_attn.rotary_emb.inv_freq buffers")
    ap.add_argument("--no-model-prefix", action="store_true",
                    help="embedding presets: tensor names without 'model.' (as a bare Qwen3Model / Gemma3TextModel)")
    ap.add_argument("--no-norm-in", action="store_true",
                    help="embedding presets: no BitLinear norms `<proj>.norm.weight` (an F16 teacher)")
    ap.add_argument("--pooling", choices=("last", "mean", "cls"), default="last",
                    help="embedding presets: sentence-transformers pooling (default last)")
    ap.add_argument("--layer-types", action="store_true",
                    help="gemma3-tiny: config.json lists layer_types instead of sliding_window_pattern")
    args = ap.parse_args(argv)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    if args.max_shard_bytes < 0:
        ap.error("--max-shard-bytes must be >= 0")
    if args.tokenizer_dir is not None:
        if not os.path.isdir(args.tokenizer_dir):
            ap.error("--tokenizer-dir %s: not a folder" % args.tokenizer_dir)
        if os.path.isdir(args.out) and os.path.samefile(args.tokenizer_dir, args.out):
            ap.error("--tokenizer-dir must not be the --out folder")
    return args


def main(argv=None):
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    cfg = preset.config()
    cfg["torch_dtype"] = TORCH_DTYPE[args.dtype]
    embedding = preset.layout in EC.EMBED_LAYOUTS
    if embedding:
        tok_json, tok_cfg, n_tokens = EC.tokenizer_files(preset.layout)
        if not cfg["vocab_size"]:
            cfg["vocab_size"] = (n_tokens + 63) // 64 * 64    # embedding rows past the tokenizer, as Qwen's
        if args.layer_types:
            p = cfg.pop("sliding_window_pattern")
            cfg["layer_types"] = ["full_attention" if i % p == p - 1 else "sliding_attention"
                                  for i in range(cfg["num_hidden_layers"])]
    tensors = tensor_list(cfg, preset.layout, inv_freq=not args.no_inv_freq, prefix=not args.no_model_prefix,
                          norm_in=not args.no_norm_in)

    os.makedirs(args.out, exist_ok=True)
    remove_old_outputs(args.out)
    info_path = os.path.join(args.out, "SYNTHETIC_INFO.json")
    write_json(os.path.join(args.out, "config.json"), cfg)
    if preset.generation:
        write_json(os.path.join(args.out, "generation_config.json"), preset.generation, sort_keys=True)
    tokenizer = add_tokenizer(args.out, args.tokenizer_dir, preset) if args.tokenizer_dir else {}
    if embedding:
        if not tokenizer:
            write_json(os.path.join(args.out, "tokenizer.json"), tok_json)
            write_json(os.path.join(args.out, "tokenizer_config.json"), tok_cfg)
            tokenizer = {"tokenizer.json": "synthetic (embed_checkpoint.py)"}
        modules, pool = EC.sentence_transformers_files(args.pooling, cfg["hidden_size"])
        write_json(os.path.join(args.out, "modules.json"), modules)
        os.makedirs(os.path.join(args.out, "1_Pooling"), exist_ok=True)
        write_json(os.path.join(args.out, "1_Pooling", "config.json"), pool)

    if args.max_shard_bytes == 0:
        data_bytes = write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, args, cfg)
        files = ["model.safetensors"]
    else:
        shards = split_shards(tensors, args.dtype, args.max_shard_bytes)
        files = ["model-%05d-of-%05d.safetensors" % (i + 1, len(shards)) for i in range(len(shards))]
        data_bytes, weight_map = 0, {}
        for fn, shard in zip(files, shards):
            data_bytes += write_safetensors(os.path.join(args.out, fn), shard, args, cfg)
            weight_map.update((t.name, fn) for t in shard)
        write_json(os.path.join(args.out, "model.safetensors.index.json"),
                   {"metadata": {"total_size": data_bytes},
                    "weight_map": dict(sorted(weight_map.items()))})

    info = {
        "preset": args.preset,
        "architectures": cfg["architectures"],
        "layout": preset.layout,
        "seed": args.seed,
        "dtype": args.dtype,
        "linear_std": args.linear_std,
        "embed_std": args.embed_std,
        "norm_noise": args.norm_noise,
        "inv_freq": any(t.kind == "inv_freq" for t in tensors),
        "n_tensors": len(tensors),
        "n_params": sum(n_elements(t) for t in tensors),
        "data_bytes": data_bytes,
        "files": files,
        "tokenizer": tokenizer,
        "generator": "tools/reference/make_hf_checkpoint.py: per tensor numpy default_rng([seed, crc32(name)]) "
                     "float32 standard_normal in %d-element chunks; linear N(0, linear_std), embedding "
                     "N(0, embed_std), norms 1 + N(0, norm_noise) (Gemma's own: N(0, norm_noise)); bf16 by "
                     "round-to-nearest-even" % CHUNK,
    }
    write_json(info_path, info)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
