#!/usr/bin/env python3
"""Check an exported HF folder against the PyTorch model with tools/reference (numpy, float64).

  check_export.py CHECKPOINT.pt HF_DIR

For a few token sequences: logits of the PyTorch model in eval mode (float32 and float64) vs
`tools/reference/run.py --hf HF_DIR` (float64). Prints max |diff| / max |logit| and argmax
agreement. Passes when the float64 model matches the reference (same math, same weights: a
wrong name, shape, β or RoPE shows up at once). The float32 figures are for information: in
float32 an activation x·s that lies within float error of a rounding boundary k+½ can round to
the other int8 code, and a quantized network amplifies such a flip (see tools/reference/README.md).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bitnet import BitNet, Config   # noqa: E402

REF = os.path.join(HERE, "..", "reference", "run.py")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ck = torch.load(sys.argv[1], map_location="cpu")
    model = BitNet(Config(**ck["config"]))
    model.load_state_dict(ck["model"])
    model.eval()
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=ck["tokenizer_model"])
    seqs = [[1] + sp.encode("Once upon a time, there was a little girl named Lily."),
            [1] + sp.encode("Tom and his dog went to the park. They played with a red ball all day long"),
            [1, 2, 3, 100, 1000, 4000, 7, 7, 7]]
    ok = True
    for toks in seqs:
        with torch.no_grad():
            x = torch.tensor([toks])
            l32 = model(x)[0].numpy()
            l64 = model.double()(x)[0].numpy()
            model.float()
        with tempfile.TemporaryDirectory() as td:
            out = os.path.join(td, "ref.npy")
            subprocess.run(["/usr/bin/python3", REF, "--hf", sys.argv[2], "--tokens", ",".join(map(str, toks)),
                            "--out", out, "--float64", "--quiet"], check=True)
            ref = np.load(out)
        scale = np.abs(ref).max()
        d32 = np.abs(l32 - ref).max() / scale
        d64 = np.abs(l64 - ref).max() / scale
        a32 = (l32.argmax(1) == ref.argmax(1)).mean()
        a64 = (l64.argmax(1) == ref.argmax(1)).mean()
        ok = ok and d64 < 1e-6 and a64 == 1.0
        print(f"{len(toks):3d} tokens: max|logit| {scale:.3f}  rel diff float64 {d64:.2e} (argmax agree {a64:.3f})"
              f"  float32 {d32:.2e} (argmax agree {a32:.3f})")
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
