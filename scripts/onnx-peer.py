#!/usr/bin/env python3
"""The planner's predictor on ONNX Runtime, as a peer for `cerebellum bench planner --peer onnxruntime`.

Reads the predictor's weights from a world-model file (safetensors: predictor.<i>.weight / .bias, a
linear → ReLU → linear → ReLU → linear MLP), builds the same network as an ONNX graph (Gemm and Relu
nodes, weights as initializers), and times it on one intra-op thread for the given batch sizes: one
predictor pass, and one MPPI iteration's worth of passes (horizon passes, each fed the previous pass's
residual update from Python, as a rollout needs). Prints JSON on stdout.
"""
import argparse
import json
import statistics
import sys
import time

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file
except ImportError as e:  # one clear line, no traceback
    sys.exit(f"onnx-peer: {e.name} is missing: pip install onnxruntime==1.31.1 onnx==1.23.2 safetensors numpy")


def build(weights):
    layers = sorted({int(k.split(".")[1]) for k in weights if k.startswith("predictor.")})
    nodes, inits, x = [], [], "x"
    for n, i in enumerate(layers):
        w, b = weights[f"predictor.{i}.weight"], weights[f"predictor.{i}.bias"]
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"), numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
        y = f"g{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], transB=1))
        if n < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [y], [f"r{i}"]))
            y = f"r{i}"
        x = y
    first = weights[f"predictor.{layers[0]}.weight"]
    last = weights[f"predictor.{layers[-1]}.weight"]
    graph = helper.make_graph(nodes, "predictor",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", first.shape[1]])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", last.shape[0]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    flops = sum(2 * weights[f"predictor.{i}.weight"].size for i in layers)
    return model.SerializeToString(), first.shape[1], last.shape[0], flops


def median_time(fn, rounds, round_seconds):
    fn()
    reps = 1
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(round_seconds / one))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batches", default="32")
    ap.add_argument("--horizon", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--round-ms", type=float, default=60)
    a = ap.parse_args()
    weights = load_file(a.model)
    blob, width, latent, flops = build(weights)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    out = {"peer": "onnxruntime", "version": ort.__version__, "threads": 1, "flops_per_row": flops, "shapes": []}
    for batch in [int(b) for b in a.batches.split(",")]:
        x = rng.uniform(-1, 1, (batch, width)).astype(np.float32)
        passed = median_time(lambda: session.run(None, {"x": x}), a.rounds, a.round_ms / 1e3)

        def iteration():
            z = x[:, :latent].copy()
            inp = x.copy()
            for _ in range(a.horizon):
                inp[:, :latent] = z
                z += session.run(None, {"x": inp})[0]
        it = median_time(iteration, a.rounds, a.round_ms / 1e3)
        out["shapes"].append({"rows": batch, "pass_us": passed * 1e6, "pass_gflops": flops * batch / passed / 1e9,
                              "iteration_ms": it * 1e3, "iteration_gflops": flops * batch * a.horizon / it / 1e9})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
