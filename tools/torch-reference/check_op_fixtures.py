#!/usr/bin/env python3
"""Cross-check Fixtures/torch-ops.json without trusting the generator's plumbing.

Two checks, both reading only the JSON:
  * layout-sensitive ops (transpose, permute, slice, gather, conv2d, pooling, ...) are
    recomputed with NumPy, which catches row-major/flattening mistakes;
  * every recorded gradient is compared with central finite differences of
    sum(op(inputs) * upstream) in float64, which catches upstream/grad mix-ups.
Exits non-zero on any mismatch.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import DEFAULT_OUTPUT, apply_op  # noqa: E402

TORCH_DTYPES = {"F32": torch.float64, "I64": torch.int64, "BOOL": torch.bool}


def as_array(record: dict) -> np.ndarray:
    return np.array(record["data"], dtype=np.float64).reshape(record["shape"])


def as_tensor(record: dict) -> torch.Tensor:
    values = torch.tensor(record["data"], dtype=torch.float64).reshape(record["shape"])
    return values.to(TORCH_DTYPES[record["dtype"]])


def windows(x: np.ndarray, kernel, stride, padding, fill: float):
    """Yield (i, j, window) over a padded NCHW array, floor output size."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    rows = (padded.shape[2] - kh) // sh + 1
    cols = (padded.shape[3] - kw) // sw + 1
    for i in range(rows):
        for j in range(cols):
            yield i, j, rows, cols, padded[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]


def pool(x, args, reduce, fill):
    out = None
    for i, j, rows, cols, window in windows(x, args["kernel_size"], args["stride"],
                                            args["padding"], fill):
        if out is None:
            out = np.zeros(x.shape[:2] + (rows, cols))
        out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def conv2d(xs, args):
    x, weight = xs[0], xs[1]
    bias = xs[2] if len(xs) == 3 else np.zeros(weight.shape[0])
    out = None
    for i, j, rows, cols, window in windows(x, weight.shape[2:], args["stride"],
                                            args["padding"], 0.0):
        if out is None:
            out = np.zeros((x.shape[0], weight.shape[0], rows, cols))
        out[:, :, i, j] = np.einsum("nchw,ochw->no", window, weight) + bias
    return out


def numpy_forward(op: str, xs: list[np.ndarray], a: dict):
    """Independent forward for ops whose risk is in indexing/layout; None = not covered."""
    if op == "transpose":
        return np.swapaxes(xs[0], a["dim0"], a["dim1"])
    if op == "permute":
        return np.transpose(xs[0], a["dims"])
    if op == "reshape":
        return xs[0].reshape(a["shape"])
    if op == "slice":
        window = [slice(None)] * xs[0].ndim
        window[a["dim"]] = slice(a["start"], a["end"], a["step"])
        return xs[0][tuple(window)]
    if op == "index_select":
        return np.take(xs[0], xs[1].astype(int), axis=a["dim"])
    if op == "gather":
        return np.take_along_axis(xs[0], xs[1].astype(int), axis=a["dim"])
    if op == "where":
        return np.where(xs[0] != 0, xs[1], xs[2])
    if op in ("eq", "lt", "gt"):
        compare = {"eq": np.equal, "lt": np.less, "gt": np.greater}[op]
        return compare(xs[0], xs[1]).astype(np.float64)
    if op == "matmul":
        return np.matmul(xs[0], xs[1])
    if op == "cat":
        return np.concatenate(xs, axis=a["dim"])
    if op == "stack":
        return np.stack(xs, axis=a["dim"])
    if op == "avg_pool2d":
        return pool(xs[0], a, np.mean, 0.0)
    if op == "max_pool2d":
        return pool(xs[0], a, np.max, -np.inf)
    if op == "conv2d":
        return conv2d(xs, a)
    return None


def finite_difference_mismatches(case: dict, step: float = 1e-6) -> list[str]:
    upstream = torch.tensor(case["upstream"]["data"], dtype=torch.float64)
    upstream = upstream.reshape(case["upstream"]["shape"])
    inputs = [as_tensor(r) for r in case["inputs"]]

    def loss(tensors):
        return float((apply_op(case["op"], tensors, case["args"]) * upstream).sum())

    problems = []
    for k, grad in enumerate(case["grads"]):
        if grad is None:
            continue
        estimate = np.zeros(inputs[k].numel())
        for e in range(inputs[k].numel()):
            up = [t.clone() for t in inputs]
            down = [t.clone() for t in inputs]
            up[k].view(-1)[e] += step
            down[k].view(-1)[e] -= step
            estimate[e] = (loss(up) - loss(down)) / (2 * step)
        recorded = as_array(grad).reshape(-1)
        if not np.allclose(estimate, recorded, atol=1e-4, rtol=1e-4):
            worst = float(np.abs(estimate - recorded).max())
            problems.append(f"{case['name']}: grad of input {k} off by {worst:.3g}")
    return problems


def main() -> int:
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    fixture = json.loads(path.read_text())
    problems = []
    for case in fixture["cases"]:
        xs = [as_array(r) for r in case["inputs"]]
        expected = numpy_forward(case["op"], xs, case["args"])
        actual = as_array(case["output"])
        if expected is not None and (expected.shape != actual.shape
                                     or not np.allclose(expected, actual, atol=1e-5, rtol=1e-5)):
            problems.append(f"{case['name']}: forward differs from NumPy")
        if case["upstream"] is not None:
            problems += finite_difference_mismatches(case)
    for problem in problems:
        print(problem)
    print(f"checked {len(fixture['cases'])} cases, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
