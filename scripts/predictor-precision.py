#!/usr/bin/env python3
"""Writes copies of a world-model file whose predictor weights are rounded to a reduced precision, to measure
what the precision costs before any kernel is written for it (`cerebellum eval-model` for the forecast error,
`cerebellum eval` for goal reaching; docs/performance.md has the figures):

  fp16  every predictor weight and bias rounded to IEEE half precision
  bf16  rounded to bfloat16 (the top 16 bits of fp32, round to nearest even)
  int8  weights symmetric per output channel, scale max|w| / 127 (biases kept in fp32)

Only the weights are rounded (activations stay fp32), so the figures bound what a kernel with fp32
accumulation and these weights would lose. Usage: predictor-precision.py MODEL OUT_STEM
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file


def bf16(x):
    u = x.astype(np.float32).view(np.uint32)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def int8(w):
    if w.ndim < 2:
        return w
    scale = np.abs(w).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1
    return (np.clip(np.rint(w / scale), -127, 127) * scale).astype(np.float32)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, stem = sys.argv[1], sys.argv[2]
    with safe_open(model, "np") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for name, fn in [("fp16", lambda x: x.astype(np.float16).astype(np.float32)), ("bf16", bf16), ("int8", int8)]:
        out = {k: (fn(v) if k.startswith("predictor.") else v) for k, v in tensors.items()}
        worst = max(float(np.abs(out[k] - tensors[k]).max() / (np.abs(tensors[k]).max() + 1e-30))
                    for k in tensors if k.startswith("predictor."))
        save_file(out, f"{stem}-{name}.safetensors", metadata=meta)
        print(f"{stem}-{name}.safetensors: largest weight change {worst:.2e} of the tensor's largest weight")


if __name__ == "__main__":
    main()
