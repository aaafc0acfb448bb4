#!/usr/bin/env python3
"""The independent side of the safetensors round-trip test (NeuralEngineTests).

Reads IN (written by the Swift engine) with Python's safetensors and numpy, checks every tensor and
the metadata against the values the Swift test wrote, then writes OUT with each tensor transformed
(F32 doubled, I8 negated, I32 plus one) and the metadata plus written_by=python, for Swift to read.
Exit status 0 and "ok" on success; a message naming the mismatch otherwise.
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

src, dst = sys.argv[1], sys.argv[2]
t = load_file(src)
expected = {
    "weights.f32": (np.float32, np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1.0),
    "weights.i8": (np.int8, np.array([-127, -64, 0, 63, 127], dtype=np.int8)),
    "weights.i32": (np.int32, np.array([[-100000, 0], [7, 2147483647]], dtype=np.int32)),
    "empty": (np.float32, np.zeros((0, 4), dtype=np.float32)),
}
if sorted(t) != sorted(expected):
    sys.exit(f"tensor names {sorted(t)} != {sorted(expected)}")
for name, (dtype, values) in expected.items():
    if t[name].dtype != dtype or t[name].shape != values.shape or not np.array_equal(t[name], values):
        sys.exit(f"{name}: got {t[name].dtype} {t[name].shape} {t[name]!r}")
with safe_open(src, framework="numpy") as f:
    meta = f.metadata()
if meta != {"architecture": '[{"op":"flatten"}]', "quantization": "int8 per-channel"}:
    sys.exit(f"metadata {meta}")
out = {
    "weights.f32": t["weights.f32"] * 2,
    "weights.i8": -t["weights.i8"],
    "weights.i32": t["weights.i32"] + np.array([[1, 1], [1, 0]], dtype=np.int32),
    "empty": t["empty"],
}
save_file(out, dst, metadata={**meta, "written_by": "python"})
print("ok")
