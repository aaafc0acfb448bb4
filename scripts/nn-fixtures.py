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


def layernorm(x, g, b, eps=1e-5):
    m = x.mean(axis=-1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def groupnorm(x, groups, g, b, eps=1e-5):
    B, H, W, C = x.shape
    xg = x.reshape(B, H * W, groups, C // groups)
    m = xg.mean(axis=(1, 3), keepdims=True)
    v = ((xg - m) ** 2).mean(axis=(1, 3), keepdims=True)
    return ((xg - m) / np.sqrt(v + eps)).reshape(B, H, W, C) * g + b


erf = np.vectorize(math.erf)
ACT = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
    "silu": lambda x: x / (1 + np.exp(-x)),
}


def pool(x, k, s, kind):
    B, H, W, C = x.shape
    OH, OW = (H - k) // s + 1, (W - k) // s + 1
    out = np.zeros((B, OH, OW, C))
    for oy in range(OH):
        for ox in range(OW):
            win = x[:, oy * s:oy * s + k, ox * s:ox * s + k, :]
            out[:, oy, ox, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


def run(layers, params, x, prefix=""):
    """Runs an architecture (the engine's JSON layer specs) in float64."""
    for i, L in enumerate(layers):
        p = f"{prefix}{i}"
        op = L["op"]
        if op == "conv2d":
            x = conv(x, params[p + ".weight"], params[p + ".bias"], L["stride"], L["padding"])
        elif op == "linear":
            x = linear(x, params[p + ".weight"], params[p + ".bias"])
        elif op == "layernorm":
            x = layernorm(x, params[p + ".weight"], params[p + ".bias"])
        elif op == "groupnorm":
            x = groupnorm(x, L["groups"], params[p + ".weight"], params[p + ".bias"])
        elif op == "activation":
            x = ACT[L["function"]](x)
        elif op == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif op in ("avgpool", "maxpool"):
            x = pool(x, L["kernel"], L["stride"], op[:3])
        elif op == "global_avgpool":
            x = x.mean(axis=(1, 2))
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
        elif op in ("layernorm", "groupnorm"):
            n = L["features"] if op == "layernorm" else L["channels"]
            params[p + ".weight"] = rng.normal(1, 0.3, (n,))
            params[p + ".bias"] = rng.normal(0, 0.3, (n,))
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
case("layernorm", [{"op": "layernorm", "features": 6}], 3, [6])
case("groupnorm", [{"op": "groupnorm", "groups": 3, "channels": 6}], 2, [4, 4, 6])
xs = np.linspace(-6, 6, 61).reshape(1, 61)
for f in ("relu", "gelu", "silu"):
    case(f, [{"op": "activation", "function": f}], 1, [61], xs)
case("avgpool", [{"op": "avgpool", "kernel": 2, "stride": 2}], 2, [6, 6, 3])
case("maxpool", [{"op": "maxpool", "kernel": 3, "stride": 2}], 1, [7, 7, 2])
case("global_avgpool", [{"op": "global_avgpool"}], 2, [3, 5, 4])
case("network", [
    conv_spec(3, 4, 3, 2, 1), {"op": "activation", "function": "relu"},
    {"op": "groupnorm", "groups": 2, "channels": 4},
    {"op": "residual", "body": [conv_spec(4, 4, 3, 1, 1), {"op": "activation", "function": "gelu"}]},
    {"op": "maxpool", "kernel": 2, "stride": 2},
    {"op": "flatten"},
    {"op": "linear", "in": 2 * 2 * 4, "out": 8},
    {"op": "layernorm", "features": 8},
    {"op": "activation", "function": "silu"},
], 2, [8, 8, 3])

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/NeuralEngineTests/Fixtures/layers.safetensors"
save_file(tensors, out, metadata=metadata)
print(f"wrote {out}: {len(tensors)} tensors")
