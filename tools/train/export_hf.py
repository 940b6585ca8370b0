#!/usr/bin/env python3
"""Write a trained model as a Hugging Face BitNet (2B4T-style) checkpoint folder.

  export_hf.py CHECKPOINT.pt OUT_DIR

The folder has what `tern convert` reads: config.json (BitNetForCausalLM, relu2, autobitlinear),
model.safetensors (float32 latent weights under HF names; the converter ternarizes them with the
same absmean rule as training), tokenizer.model (SentencePiece), tokenizer_config.json,
special_tokens_map.json and generation_config.json. safetensors is written by hand: 8-byte
little-endian header length, JSON header padded with spaces to a multiple of 8, raw data.
"""
import json
import os
import sys

import numpy as np

UNK, BOS, EOS = 0, 1, 2    # SentencePiece ids (tools/train/train.py trains it so)


def hf_config(cfg):
    return {
        "architectures": ["BitNetForCausalLM"],
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "hidden_act": "relu2",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "model_type": "bitnet",
        "rms_norm_eps": cfg["rms_norm_eps"],
        "num_attention_heads": cfg["num_attention_heads"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "rope_theta": float(cfg["rope_theta"]),
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": cfg["vocab_size"],
        "quantization_config": {
            "quant_method": "bitnet",
            "linear_class": "autobitlinear",
            "quantization_mode": "online",
        },
    }


def write_safetensors(path, tensors):
    """tensors: {name: float32 numpy array}, written in sorted name order."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    names = sorted(tensors)
    for n in names:
        nbytes = tensors[n].size * 4
        header[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [off, off + nbytes]}
        off += nbytes
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for n in names:
            f.write(np.ascontiguousarray(tensors[n], dtype="<f4").tobytes())


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export(tensors, cfg, sp_model, out_dir):
    """tensors: HF name -> float32 numpy; cfg: bitnet.Config dict; sp_model: tokenizer.model bytes."""
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "config.json"), hf_config(cfg))
    write_json(os.path.join(out_dir, "generation_config.json"),
               {"bos_token_id": BOS, "eos_token_id": EOS, "max_length": cfg["max_position_embeddings"]})
    write_json(os.path.join(out_dir, "tokenizer_config.json"), {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "model_max_length": cfg["max_position_embeddings"],
        "tokenizer_class": "LlamaTokenizer",
        "legacy": False,
    })
    write_json(os.path.join(out_dir, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    with open(os.path.join(out_dir, "tokenizer.model"), "wb") as f:
        f.write(sp_model)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)


def main():
    import torch
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ck = torch.load(sys.argv[1], map_location="cpu")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bitnet import BitNet, Config
    model = BitNet(Config(**ck["config"]))
    model.load_state_dict(ck["model"])
    tensors = {k: v.numpy() for k, v in model.hf_state_dict().items()}
    export(tensors, ck["config"], ck["tokenizer_model"], sys.argv[2])
    print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()
