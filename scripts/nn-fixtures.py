#!/usr/bin/env python3
"""Reference outputs for the neural engine's layers, computed independently with numpy in float64.

Writes Tests/NeuralEngineTests/Fixtures/layers.safetensors (through Python's safetensors package,
so the Swift reader is also checked against the reference writer). Each case "<name>" stores its
input "<name>.x", its parameters "<name>.<i>.weight" / "<name>.<i>.bias" named as the engine names
them, and the expected output "<name>.y"; the metadata maps "<name>" to the case's architecture as
JSON (the engine's layer-spec format) and "<name>.input_shape" to the per-sample input shape.

Regenerate with `make nn-fixtures`; the file is committed.
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import save_file

rng = np.random.default_rng(20261122)
tensors = {}
metadata = {}


def conv(x, w, b, stride, pad):
    """NHWC input, OHWI weights: sum over the window of padded input times weights."""
    B, H, W, C = x.shape
    O, K, _, _ = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    OH = (H + 2 * pad - K) // stride + 1
    OW = (W + 2 * pad - K) // stride + 1
    out = np.zeros((B, OH, OW, O))
    for ky in range(K):
        for kx in range(K):
            window = xp[:, ky:ky + stride * (OH - 1) + 1:stride, kx:kx + stride * (OW - 1) + 1:stride, :]
            out += np.einsum("bhwc,oc->bhwo", window, w[:, ky, kx, :])
    return out + b


def linear(x, w, b):
    return x @ w.T + b


erf = np.vectorize(math.erf)
ACT = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
    "silu": lambda x: x / (1 + np.exp(-x)),
}


def run(layers, params, x, prefix=""):
    """Runs an architecture (the engine's JSON layer specs) in float64."""
    for i, L in enumerate(layers):
        p = f"{prefix}{i}"
        op = L["op"]
        if op == "conv2d":
            x = conv(x, params[p + ".weight"], params[p + ".bias"], L["stride"], L["padding"])
        elif op == "linear":
            x = linear(x, params[p + ".weight"], params[p + ".bias"])
        elif op == "activation":
            x = ACT[L["function"]](x)
        elif op == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif op == "residual":
            x = x + run(L["body"], params, x, p + ".")
        else:
            raise ValueError(op)
    return x


def make_params(layers, prefix=""):
    params = {}
    for i, L in enumerate(layers):
        p = f"{prefix}{i}"
        op = L["op"]
        if op == "conv2d":
            params[p + ".weight"] = rng.normal(0, 0.5, (L["out"], L["kernel"], L["kernel"], L["in"]))
            params[p + ".bias"] = rng.normal(0, 0.2, (L["out"],))
        elif op == "linear":
            params[p + ".weight"] = rng.normal(0, 0.5, (L["out"], L["in"]))
            params[p + ".bias"] = rng.normal(0, 0.2, (L["out"],))
        elif op == "residual":
            params.update(make_params(L["body"], p + "."))
    return params


def case(name, layers, batch, input_shape, x=None):
    params = make_params(layers)
    if x is None:
        x = rng.normal(0, 1, [batch] + input_shape)
    y = run(layers, params, x)
    tensors[name + ".x"] = x.astype(np.float32)
    tensors[name + ".y"] = y.astype(np.float32)
    for k, v in params.items():
        tensors[f"{name}.{k}"] = v.astype(np.float32)
    metadata[name] = json.dumps(layers)
    metadata[name + ".input_shape"] = json.dumps(input_shape)


def conv_spec(i, o, k, s, p):
    return {"op": "conv2d", "in": i, "out": o, "kernel": k, "stride": s, "padding": p}


case("conv_s1_p1", [conv_spec(3, 5, 3, 1, 1)], 2, [9, 9, 3])
case("conv_s2_p1", [conv_spec(4, 6, 3, 2, 1)], 1, [10, 10, 4])
case("conv_s2_p0_rect", [conv_spec(1, 3, 3, 2, 0)], 2, [7, 8, 1])
case("conv_k5_p2", [conv_spec(2, 4, 5, 1, 2)], 1, [8, 8, 2])
case("conv_k1", [conv_spec(6, 3, 1, 1, 0)], 2, [4, 5, 6])
case("linear", [{"op": "linear", "in": 7, "out": 5}], 3, [7])
case("linear_single", [{"op": "linear", "in": 33, "out": 17}], 1, [33])
xs = np.linspace(-6, 6, 61).reshape(1, 61)
for f in ("relu", "gelu", "silu"):
    case(f, [{"op": "activation", "function": f}], 1, [61], xs)
case("network", [
    conv_spec(3, 4, 3, 2, 1), {"op": "activation", "function": "relu"},
    {"op": "residual", "body": [conv_spec(4, 4, 3, 1, 1), {"op": "activation", "function": "gelu"}]},
    conv_spec(4, 4, 3, 2, 1),
    {"op": "flatten"},
    {"op": "linear", "in": 2 * 2 * 4, "out": 8},
    {"op": "activation", "function": "silu"},
], 2, [8, 8, 3])

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/NeuralEngineTests/Fixtures/layers.safetensors"
save_file(tensors, out, metadata=metadata)
print(f"wrote {out}: {len(tensors)} tensors")
