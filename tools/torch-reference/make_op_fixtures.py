#!/usr/bin/env python3
"""Write Fixtures/torch-ops.json: PyTorch reference values for the tensor engine's ops.

Every case feeds fixed float32 inputs to one op and records the forward output and,
for differentiable ops, the gradient of loss = sum(output * upstream) with respect to
each input, where `upstream` is a fixed random cotangent. Run from anywhere inside a
venv that has torch; see README.md next to this file.

The reference numbers are computed in float64 from the exact float32 inputs and then
rounded to the nearest float32, so they do not depend on the order in which a
particular float32 kernel happens to accumulate. Each case also records how far
PyTorch's own float32 computation strays from that reference, as a tolerance hint.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

SEED = 20261129
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "Fixtures" / "torch-ops.json"

# Op-by-op meaning of "inputs" and "args"; copied into the JSON header so the fixture
# explains itself without this script.
CONVENTIONS = {
    "matmul": "torch.matmul(inputs[0], inputs[1]); 2-D, batched with broadcast batch dims, and 1-D vector operands (names contain 'vector').",
    "add": "inputs[0] + inputs[1] with NumPy broadcasting; shape [] is a 0-d scalar tensor, [1] a one-element tensor.",
    "sub": "inputs[0] - inputs[1], broadcasting as for add.",
    "mul": "inputs[0] * inputs[1], broadcasting as for add.",
    "div": "inputs[0] / inputs[1] (true division), broadcasting as for add; divisors satisfy |b| >= 0.5.",
    "neg": "-inputs[0].",
    "exp": "torch.exp(inputs[0]).",
    "log": "natural log; inputs are positive.",
    "sqrt": "square root; inputs are positive.",
    "pow": "one input: inputs[0] ** args.exponent (a float scalar); two inputs: inputs[0] ** inputs[1] elementwise with broadcasting and positive base.",
    "abs": "|inputs[0]|; no input is within 0.05 of 0.",
    "clamp": "torch.clamp(x, min=args.min, max=args.max); a null bound means unbounded on that side; no input is within 0.05 of a bound. Gradient is 1 strictly inside the bounds, 0 outside.",
    "relu": "max(x, 0); no input is within 0.05 of 0.",
    "gelu": "F.gelu(x, approximate=args.approximate): 'none' = x * Phi(x) with the exact normal CDF (erf); 'tanh' = 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))).",
    "tanh": "torch.tanh.",
    "rsqrt": "torch.rsqrt; inputs are positive.",
    "erf": "torch.erf.",
    "silu": "F.silu: x * sigmoid(x).",
    "masked_fill": "inputs[0].masked_fill(inputs[1], args.value); inputs[1] is a BOOL mask broadcast to inputs[0].",
    "masked_softmax": "F.softmax(inputs[0].masked_fill(inputs[1], -inf), dim=args.dim); every lane keeps at least one open place.",
    "split": "torch.split(inputs[0], args.sizes, dim=args.dim)[args.index].",
    "sigmoid": "1 / (1 + exp(-x)).",
    "softmax": "F.softmax(x, dim=args.dim); dim may be negative (counts from the end).",
    "log_softmax": "F.log_softmax(x, dim=args.dim); dim may be negative.",
    "sum": "torch.sum(x, dim=args.dim, keepdim=args.keepdim); dim is an int, a list of ints (reduced together), or null = reduce every axis to shape [] (keepdim is then false).",
    "mean": "torch.mean, same dim/keepdim conventions as sum.",
    "max": "torch.max(x, dim=args.dim, keepdim=args.keepdim).values; output holds the values only; no ties along dim, so the gradient flows to the single maximal element.",
    "min": "torch.min(x, dim=args.dim, keepdim=args.keepdim).values; as for max.",
    "var": "torch.var(x, dim=args.dim, correction=args.correction, keepdim=args.keepdim) = sum((x-mean)^2) / (N - correction) over the reduced elements; dim int or list of ints.",
    "reshape": "x.reshape(args.shape); at most one entry of shape is -1 (inferred). Row-major order is kept.",
    "transpose": "x.transpose(args.dim0, args.dim1); dims may be negative.",
    "permute": "x.permute(args.dims); output axis i is input axis dims[i].",
    "slice": "Python slicing on one axis: x[..., start:end:step, ...] with the slice on axis args.dim (may be negative); 0 <= start < end <= size, step >= 1. Same as narrow when step == 1.",
    "index_select": "torch.index_select(inputs[0], dim=args.dim, index=inputs[1]); inputs[1] is 1-D I64 and may repeat indices (their gradients add up).",
    "gather": "torch.gather(inputs[0], dim=args.dim, index=inputs[1]); out[i][j][k] = x[index[i][j][k]][j][k] for dim 0, etc.; index has x's rank and the output has index's shape; repeated indices accumulate gradient.",
    "cat": "torch.cat(inputs, dim=args.dim); all inputs are differentiable.",
    "stack": "torch.stack(inputs, dim=args.dim); a new axis is inserted at dim (negative dim counts in the output's rank).",
    "where": "torch.where(inputs[0], inputs[1], inputs[2]): cond (BOOL) picks from inputs[1] where true, inputs[2] where false; all three broadcast together. cond gets no gradient.",
    "eq": "inputs[0] == inputs[1] elementwise with broadcasting; output BOOL; no gradients.",
    "lt": "inputs[0] < inputs[1]; output BOOL; no gradients.",
    "gt": "inputs[0] > inputs[1]; output BOOL; no gradients.",
    "argmax": "torch.argmax(x, dim=args.dim, keepdim=args.keepdim); output I64; dim null = index into the flattened tensor (output shape []); no ties; no gradients.",
    "conv2d": "F.conv2d(input, weight, bias, stride=args.stride, padding=args.padding): input [N,C,H,W], weight [O,C,kH,kW], optional bias [O] (inputs has 2 entries when there is no bias); stride and padding are always [height, width] pairs; zero padding; cross-correlation (no kernel flip); dilation 1, groups 1.",
    "max_pool2d": "F.max_pool2d(x, kernel_size=args.kernel_size, stride=args.stride, padding=args.padding) on [N,C,H,W]; all three are [height, width] pairs; padding acts as -inf; floor output size; no ties inside a window.",
    "avg_pool2d": "F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=args.count_include_pad) on [N,C,H,W]; pairs as for max_pool2d; with count_include_pad true every window divides by kH*kW even where it covers zero padding; floor output size.",
    "cross_entropy": "F.cross_entropy(logits [N,C], target [N] I64 class indices, reduction=args.reduction) = reduced -log_softmax(logits)[n, target[n]]; 'mean' divides by N. Output shape []. target gets no gradient.",
    "nll_loss": "F.nll_loss(log_probs [N,C], target [N] I64, reduction=args.reduction) = reduced -log_probs[n, target[n]]. Output shape [].",
}

ENCODING = {
    "data": "flat, row-major (last axis fastest); a shape [] tensor has one element.",
    "F32": "numbers that are exactly representable in float32 (parse as Double, then convert to Float with no rounding).",
    "I64": "integers.",
    "BOOL": "0 (false) or 1 (true), so every data array is numeric.",
    "upstream": "fixed cotangent with the output's shape; grads[i] = d sum(output * upstream) / d inputs[i]. null for ops with integer or boolean output.",
    "grads": "one entry per input; null where the input is integer/boolean or the op has no gradient.",
    "reference": "outputs and grads are computed in float64 from the float32 inputs and rounded to the nearest float32.",
    "torch_float32_max_abs_error": "largest |PyTorch float32 result - reference| over output and grads: a hint for the comparison tolerance.",
}


class Fixtures:
    """Draws deterministic inputs and records reference cases."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.cases: list[dict] = []

    # ---- input generators (all float32, hence exactly representable) ----

    def normal(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, dtype=torch.float32) * scale

    def uniform(self, *shape: int, low: float, high: float) -> torch.Tensor:
        unit = torch.rand(shape, generator=self.generator, dtype=torch.float32)
        return (low + (high - low) * unit).to(torch.float32)

    def away_from(self, *shape: int, points: tuple[float, ...], margin: float = 0.05,
                  scale: float = 1.0) -> torch.Tensor:
        """Normal samples redrawn until none lies within `margin` of a kink."""
        while True:
            x = self.normal(*shape, scale=scale)
            if all(bool(((x - p).abs() > margin).all()) for p in points):
                return x

    def distinct(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        """Normal samples with no two equal, so max/min/argmax never tie."""
        while True:
            x = self.normal(*shape, scale=scale)
            if x.numel() == torch.unique(x).numel():
                return x

    def nonzero_divisor(self, *shape: int) -> torch.Tensor:
        magnitude = self.uniform(*shape, low=0.5, high=2.0)
        sign = torch.where(torch.rand(shape, generator=self.generator) < 0.5, -1.0, 1.0)
        return (magnitude * sign).to(torch.float32)

    def indices(self, values: list, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        t = torch.tensor(values, dtype=torch.int64)
        return t.reshape(shape) if shape is not None else t

    def integers(self, high: int, *shape: int) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=self.generator, dtype=torch.int64)

    # ---- case recording ----

    def add(self, name: str, op: str, inputs: list[torch.Tensor], args: dict | None = None,
            differentiable: bool = True) -> None:
        args = args or {}
        if any(c["name"] == name for c in self.cases):
            raise ValueError(f"duplicate case name {name}")
        reference = evaluate(op, inputs, args, torch.float64, differentiable, None)
        upstream = None
        if reference["output"].is_floating_point() and differentiable:
            upstream = self.normal(*reference["output"].shape)
            reference = evaluate(op, inputs, args, torch.float64, differentiable, upstream)
        single = evaluate(op, inputs, args, torch.float32, differentiable, upstream)

        output = reference["output"]
        grads = reference["grads"]
        self.cases.append({
            "name": name,
            "op": op,
            "inputs": [encode_input(t, differentiable) for t in inputs],
            "args": args,
            "output": encode(output, with_dtype=True),
            "upstream": None if upstream is None else encode(upstream),
            "grads": [None if g is None else encode(g) for g in grads],
            "torch_float32_max_abs_error": float32_deviation(reference, single),
        })


def evaluate(op: str, inputs: list[torch.Tensor], args: dict, dtype: torch.dtype,
             differentiable: bool, upstream: torch.Tensor | None) -> dict:
    """Run one op in `dtype` and, given an upstream cotangent, backpropagate it."""
    leaves = []
    for t in inputs:
        if t.is_floating_point():
            leaf = t.to(dtype).detach().requires_grad_(differentiable)
        else:
            leaf = t.clone()
        leaves.append(leaf)
    output = apply_op(op, leaves, args)
    if output.is_floating_point():
        output_value = output.detach().to(torch.float64)
    else:
        output_value = output.detach()
    grads: list[torch.Tensor | None] = [None] * len(inputs)
    if upstream is not None:
        wanted = [i for i, leaf in enumerate(leaves) if leaf.is_floating_point()]
        loss = (output * upstream.to(dtype)).sum()
        computed = torch.autograd.grad(loss, [leaves[i] for i in wanted], allow_unused=True)
        for i, g in zip(wanted, computed):
            g = torch.zeros_like(leaves[i]) if g is None else g
            grads[i] = g.detach().to(torch.float64)
    return {"output": output_value, "grads": grads}


def apply_op(op: str, x: list[torch.Tensor], a: dict) -> torch.Tensor:
    """The single place where JSON args are turned into a torch call."""
    elementwise = {"neg": torch.neg, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt,
                   "abs": torch.abs, "relu": torch.relu, "tanh": torch.tanh,
                   "sigmoid": torch.sigmoid, "rsqrt": torch.rsqrt, "erf": torch.erf, "silu": F.silu}
    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
              "matmul": torch.matmul, "eq": torch.eq, "lt": torch.lt, "gt": torch.gt}
    if op in elementwise:
        return elementwise[op](x[0])
    if op in binary:
        return binary[op](x[0], x[1])
    if op == "pow":
        return torch.pow(x[0], a["exponent"]) if len(x) == 1 else torch.pow(x[0], x[1])
    if op == "clamp":
        return torch.clamp(x[0], min=a["min"], max=a["max"])
    if op == "gelu":
        return F.gelu(x[0], approximate=a["approximate"])
    if op == "softmax":
        return F.softmax(x[0], dim=a["dim"])
    if op == "masked_fill":
        return x[0].masked_fill(x[1], a["value"])
    if op == "masked_softmax":
        return F.softmax(x[0].masked_fill(x[1], float("-inf")), dim=a["dim"])
    if op == "split":
        return torch.split(x[0], a["sizes"], dim=a["dim"])[a["index"]]
    if op == "log_softmax":
        return F.log_softmax(x[0], dim=a["dim"])
    if op in ("sum", "mean"):
        reduce = torch.sum if op == "sum" else torch.mean
        if a["dim"] is None:
            return reduce(x[0])
        return reduce(x[0], dim=as_dims(a["dim"]), keepdim=a["keepdim"])
    if op in ("max", "min"):
        reduce = torch.max if op == "max" else torch.min
        return reduce(x[0], dim=a["dim"], keepdim=a["keepdim"]).values
    if op == "var":
        return torch.var(x[0], dim=as_dims(a["dim"]), correction=a["correction"],
                         keepdim=a["keepdim"])
    if op == "reshape":
        return x[0].reshape(a["shape"])
    if op == "transpose":
        return x[0].transpose(a["dim0"], a["dim1"])
    if op == "permute":
        return x[0].permute(a["dims"])
    if op == "slice":
        window = [slice(None)] * x[0].dim()
        window[a["dim"]] = slice(a["start"], a["end"], a["step"])
        return x[0][tuple(window)]
    if op == "index_select":
        return torch.index_select(x[0], a["dim"], x[1])
    if op == "gather":
        return torch.gather(x[0], a["dim"], x[1])
    if op == "cat":
        return torch.cat(x, dim=a["dim"])
    if op == "stack":
        return torch.stack(x, dim=a["dim"])
    if op == "where":
        return torch.where(x[0], x[1], x[2])
    if op == "argmax":
        return torch.argmax(x[0], dim=a["dim"], keepdim=a["keepdim"])
    if op == "conv2d":
        bias = x[2] if len(x) == 3 else None
        return F.conv2d(x[0], x[1], bias, stride=a["stride"], padding=a["padding"])
    if op == "max_pool2d":
        return F.max_pool2d(x[0], a["kernel_size"], a["stride"], a["padding"])
    if op == "avg_pool2d":
        return F.avg_pool2d(x[0], a["kernel_size"], a["stride"], a["padding"],
                            count_include_pad=a["count_include_pad"])
    if op == "cross_entropy":
        return F.cross_entropy(x[0], x[1], reduction=a["reduction"])
    if op == "nll_loss":
        return F.nll_loss(x[0], x[1], reduction=a["reduction"])
    raise ValueError(f"unknown op {op}")


def as_dims(dim):
    return tuple(dim) if isinstance(dim, list) else dim


DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F32", torch.int64: "I64", torch.bool: "BOOL"}


def flat_values(t: torch.Tensor) -> list:
    flat = t.detach().contiguous().reshape(-1)
    if t.is_floating_point():
        # Round to float32 first; a float32 value printed as a Python float (a double)
        # reads back exactly in both Double and Float.
        values = [float(v) for v in flat.to(torch.float32).tolist()]
        if not all(math.isfinite(v) for v in values):
            raise ValueError("non-finite value in fixture")
        return values
    return [int(v) for v in flat.tolist()]  # I64 as integers, BOOL as 0/1


def encode(t: torch.Tensor, with_dtype: bool = False) -> dict:
    record = {"shape": list(t.shape)}
    if with_dtype:
        record["dtype"] = DTYPE_NAMES[t.dtype]
    record["data"] = flat_values(t)
    return record


def encode_input(t: torch.Tensor, differentiable: bool) -> dict:
    record = encode(t, with_dtype=True)
    record["requires_grad"] = bool(t.is_floating_point() and differentiable)
    return record


def float32_deviation(reference: dict, single: dict) -> float:
    pairs = [(reference["output"], single["output"])]
    pairs += [(r, s) for r, s in zip(reference["grads"], single["grads"]) if r is not None]
    worst = 0.0
    for r, s in pairs:
        if not r.is_floating_point():
            if not torch.equal(r, s):
                raise ValueError("float32 and float64 runs disagree on an integer/bool output")
            continue
        rounded = r.to(torch.float32).to(torch.float64)
        worst = max(worst, float((rounded - s.to(torch.float64)).abs().max()) if r.numel() else 0.0)
    # Two significant digits are enough for a tolerance hint and keep diffs quiet.
    return float(f"{worst:.2g}")


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def build_cases(fx: Fixtures) -> None:
    matmul_cases(fx)
    arithmetic_cases(fx)
    elementwise_cases(fx)
    reduction_cases(fx)
    shape_cases(fx)
    indexing_cases(fx)
    comparison_cases(fx)
    convolution_cases(fx)
    loss_cases(fx)
    sequence_cases(fx)  # last, so that the cases above keep their random inputs


def sequence_cases(fx: Fixtures) -> None:
    fx.add("rsqrt", "rsqrt", [fx.uniform(3, 4, low=0.1, high=3.0)])
    fx.add("erf", "erf", [fx.normal(3, 4, scale=1.5)])
    fx.add("silu", "silu", [fx.normal(3, 4, scale=3.0)])
    fx.add("masked_fill", "masked_fill", [fx.normal(2, 3, 4), fx.normal(1, 3, 4) > 0.3], {"value": -2.5})
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)
    fx.add("masked_softmax_causal", "masked_softmax", [fx.normal(2, 4, 4, scale=2.0), causal], {"dim": -1})
    padding = torch.tensor([[False, False, True, True], [False, False, False, True]]).reshape(2, 1, 4)
    fx.add("masked_softmax_key_padding", "masked_softmax", [fx.normal(2, 3, 4, scale=2.0), padding], {"dim": -1})
    x = fx.normal(2, 9)
    for index in range(3):
        fx.add(f"split_dim1_piece{index}", "split", [x.clone()], {"sizes": [3, 2, 4], "dim": 1, "index": index})
    fx.add("split_negative_dim_3d", "split", [fx.normal(2, 6, 3)], {"sizes": [4, 2], "dim": -2, "index": 1})
    fx.add("matmul_batched_attention_scores", "matmul", [fx.normal(2, 4, 5, 8), fx.normal(2, 4, 8, 5)])


def matmul_cases(fx: Fixtures) -> None:
    fx.add("matmul_2d", "matmul", [fx.normal(3, 4), fx.normal(4, 2)])
    fx.add("matmul_2d_single_column", "matmul", [fx.normal(2, 5), fx.normal(5, 1)])
    fx.add("matmul_batched", "matmul", [fx.normal(2, 3, 4), fx.normal(2, 4, 2)])
    fx.add("matmul_batched_broadcast_rhs_2d", "matmul", [fx.normal(2, 3, 4), fx.normal(4, 2)])
    fx.add("matmul_batched_broadcast_batch_dims", "matmul",
           [fx.normal(2, 1, 2, 3), fx.normal(3, 3, 2)])
    fx.add("matmul_vector_matrix", "matmul", [fx.normal(3), fx.normal(3, 2)])
    fx.add("matmul_matrix_vector", "matmul", [fx.normal(2, 3), fx.normal(3)])
    fx.add("matmul_vector_vector", "matmul", [fx.normal(4), fx.normal(4)])


def arithmetic_cases(fx: Fixtures) -> None:
    shapes = [
        ("same_shape", (2, 3), (2, 3)),
        ("broadcast_row", (2, 3), (3,)),
        ("broadcast_column", (2, 3), (2, 1)),
        ("broadcast_both", (2, 1, 3), (4, 1)),
        ("scalar_rhs", (2, 3), ()),
        ("one_element_rhs", (2, 3), (1,)),
        ("scalar_lhs", (), (2, 3)),
    ]
    for op in ("add", "sub", "mul", "div"):
        for label, lhs, rhs in shapes:
            right = fx.nonzero_divisor(*rhs) if op == "div" else fx.normal(*rhs)
            fx.add(f"{op}_{label}", op, [fx.normal(*lhs), right])


def elementwise_cases(fx: Fixtures) -> None:
    fx.add("neg", "neg", [fx.normal(2, 3)])
    fx.add("exp", "exp", [fx.normal(2, 3)])
    fx.add("log", "log", [fx.uniform(2, 3, low=0.1, high=3.0)])
    fx.add("sqrt", "sqrt", [fx.uniform(2, 3, low=0.1, high=3.0)])
    fx.add("pow_scalar_exponent", "pow", [fx.uniform(2, 3, low=0.2, high=2.0)],
           {"exponent": 2.5})
    fx.add("pow_scalar_negative_exponent", "pow", [fx.uniform(2, 3, low=0.2, high=2.0)],
           {"exponent": -1.5})
    fx.add("pow_scalar_integer_exponent_negative_base", "pow",
           [fx.away_from(2, 3, points=(0.0,))], {"exponent": 3.0})
    fx.add("pow_tensor_exponent", "pow",
           [fx.uniform(2, 3, low=0.2, high=2.0), fx.normal(2, 3)])
    fx.add("pow_tensor_exponent_broadcast", "pow",
           [fx.uniform(2, 3, low=0.2, high=2.0), fx.normal(3)])
    fx.add("abs", "abs", [fx.away_from(2, 4, points=(0.0,))])
    fx.add("clamp_both_bounds", "clamp", [fx.away_from(3, 4, points=(-0.5, 0.5))],
           {"min": -0.5, "max": 0.5})
    fx.add("clamp_min_only", "clamp", [fx.away_from(2, 4, points=(0.25,))],
           {"min": 0.25, "max": None})
    fx.add("clamp_max_only", "clamp", [fx.away_from(2, 4, points=(-0.25,))],
           {"min": None, "max": -0.25})
    fx.add("relu", "relu", [fx.away_from(3, 4, points=(0.0,))])
    fx.add("gelu_exact", "gelu", [fx.normal(3, 4, scale=2.0)], {"approximate": "none"})
    fx.add("gelu_tanh", "gelu", [fx.normal(3, 4, scale=2.0)], {"approximate": "tanh"})
    fx.add("tanh", "tanh", [fx.normal(3, 4, scale=2.0)])
    fx.add("sigmoid", "sigmoid", [fx.normal(3, 4, scale=3.0)])
    fx.add("softmax_last_dim", "softmax", [fx.normal(3, 4, scale=2.0)], {"dim": 1})
    fx.add("softmax_dim0", "softmax", [fx.normal(3, 4, scale=2.0)], {"dim": 0})
    fx.add("softmax_negative_dim_3d", "softmax", [fx.normal(2, 3, 4, scale=2.0)], {"dim": -2})
    fx.add("softmax_large_logits", "softmax", [fx.normal(2, 5, scale=30.0)], {"dim": -1})
    fx.add("log_softmax_last_dim", "log_softmax", [fx.normal(3, 4, scale=2.0)], {"dim": -1})
    fx.add("log_softmax_dim0", "log_softmax", [fx.normal(3, 4, scale=2.0)], {"dim": 0})
    fx.add("log_softmax_large_logits", "log_softmax", [fx.normal(2, 5, scale=30.0)],
           {"dim": 1})


def reduction_cases(fx: Fixtures) -> None:
    for op in ("sum", "mean"):
        fx.add(f"{op}_all", op, [fx.normal(2, 3, 4)], {"dim": None, "keepdim": False})
        fx.add(f"{op}_dim0", op, [fx.normal(3, 4)], {"dim": 0, "keepdim": False})
        fx.add(f"{op}_dim1_keepdim", op, [fx.normal(3, 4)], {"dim": 1, "keepdim": True})
        fx.add(f"{op}_negative_dim_3d", op, [fx.normal(2, 3, 4)], {"dim": -2, "keepdim": False})
        fx.add(f"{op}_dim_list", op, [fx.normal(2, 3, 4)], {"dim": [0, 2], "keepdim": False})
        fx.add(f"{op}_dim_list_keepdim", op, [fx.normal(2, 3, 4)],
               {"dim": [-1, 0], "keepdim": True})
    for op in ("max", "min"):
        fx.add(f"{op}_dim0", op, [fx.distinct(3, 4)], {"dim": 0, "keepdim": False})
        fx.add(f"{op}_dim1_keepdim", op, [fx.distinct(3, 4)], {"dim": 1, "keepdim": True})
        fx.add(f"{op}_negative_dim_3d", op, [fx.distinct(2, 3, 4)],
               {"dim": -1, "keepdim": False})
        fx.add(f"{op}_middle_dim_3d_keepdim", op, [fx.distinct(2, 3, 4)],
               {"dim": 1, "keepdim": True})
    fx.add("var_dim1_unbiased", "var", [fx.normal(3, 5)],
           {"dim": 1, "correction": 1, "keepdim": False})
    fx.add("var_dim0_population_keepdim", "var", [fx.normal(4, 3)],
           {"dim": 0, "correction": 0, "keepdim": True})
    fx.add("var_negative_dim_3d", "var", [fx.normal(2, 3, 4)],
           {"dim": -1, "correction": 1, "keepdim": False})
    fx.add("var_dim_list", "var", [fx.normal(2, 3, 4)],
           {"dim": [0, 2], "correction": 1, "keepdim": False})


def shape_cases(fx: Fixtures) -> None:
    fx.add("reshape_2d_to_3d", "reshape", [fx.normal(2, 6)], {"shape": [3, 2, 2]})
    fx.add("reshape_inferred_dim", "reshape", [fx.normal(2, 3, 4)], {"shape": [-1, 4]})
    fx.add("reshape_to_vector", "reshape", [fx.normal(2, 3)], {"shape": [6]})
    fx.add("transpose_2d", "transpose", [fx.normal(2, 3)], {"dim0": 0, "dim1": 1})
    fx.add("transpose_3d_negative_dims", "transpose", [fx.normal(2, 3, 4)],
           {"dim0": -1, "dim1": -3})
    fx.add("permute_3d", "permute", [fx.normal(2, 3, 4)], {"dims": [2, 0, 1]})
    fx.add("permute_4d", "permute", [fx.normal(2, 1, 3, 2)], {"dims": [0, 2, 3, 1]})
    fx.add("slice_dim0", "slice", [fx.normal(5, 3)],
           {"dim": 0, "start": 1, "end": 4, "step": 1})
    fx.add("slice_step2", "slice", [fx.normal(3, 7)],
           {"dim": 1, "start": 0, "end": 7, "step": 2})
    fx.add("slice_negative_dim_step3", "slice", [fx.normal(2, 3, 8)],
           {"dim": -1, "start": 1, "end": 7, "step": 3})
    fx.add("slice_middle_dim", "slice", [fx.normal(2, 5, 2)],
           {"dim": 1, "start": 2, "end": 5, "step": 1})
    fx.add("cat_dim0", "cat", [fx.normal(2, 3), fx.normal(1, 3), fx.normal(3, 3)], {"dim": 0})
    fx.add("cat_dim1", "cat", [fx.normal(2, 3), fx.normal(2, 2)], {"dim": 1})
    fx.add("cat_negative_dim_3d", "cat", [fx.normal(2, 2, 3), fx.normal(2, 2, 1)], {"dim": -1})
    fx.add("stack_dim0", "stack", [fx.normal(2, 3), fx.normal(2, 3)], {"dim": 0})
    fx.add("stack_dim1", "stack", [fx.normal(2, 3), fx.normal(2, 3), fx.normal(2, 3)],
           {"dim": 1})
    fx.add("stack_negative_dim", "stack", [fx.normal(2, 3), fx.normal(2, 3)], {"dim": -1})


def indexing_cases(fx: Fixtures) -> None:
    fx.add("index_select_dim0", "index_select",
           [fx.normal(4, 3), fx.indices([2, 0, 2])], {"dim": 0})
    fx.add("index_select_dim1", "index_select",
           [fx.normal(2, 5), fx.indices([4, 1, 1, 3])], {"dim": 1})
    fx.add("index_select_negative_dim_3d", "index_select",
           [fx.normal(2, 3, 4), fx.indices([3, 0])], {"dim": -1})
    fx.add("gather_dim0", "gather",
           [fx.normal(3, 4), fx.indices([[0, 2, 1, 0], [2, 2, 0, 1]])], {"dim": 0})
    fx.add("gather_dim1", "gather",
           [fx.normal(3, 4), fx.indices([[3, 0], [1, 1], [2, 0]])], {"dim": 1})
    fx.add("gather_negative_dim_3d", "gather",
           [fx.normal(2, 3, 4), fx.integers(4, 2, 3, 2)], {"dim": -1})
    cond = fx.normal(2, 3) > 0
    fx.add("where_same_shape", "where", [cond, fx.normal(2, 3), fx.normal(2, 3)])
    cond = fx.normal(2, 1) > 0
    fx.add("where_broadcast", "where", [cond, fx.normal(2, 3), fx.normal(3)])
    cond = fx.normal(3, 4) > 0
    fx.add("where_scalar_other", "where", [cond, fx.normal(3, 4), fx.normal()])


def comparison_cases(fx: Fixtures) -> None:
    for op in ("eq", "lt", "gt"):
        lhs = fx.normal(3, 4)
        rhs = fx.normal(3, 4)
        # Copy some entries across so that equality is exercised for every op.
        rhs[0, 1], rhs[1, 3], rhs[2, 0] = lhs[0, 1], lhs[1, 3], lhs[2, 0]
        fx.add(f"{op}_same_shape", op, [lhs, rhs], differentiable=False)
        row = fx.normal(4)
        lhs = fx.normal(3, 4)
        lhs[1] = row
        fx.add(f"{op}_broadcast", op, [lhs, row], differentiable=False)
        lhs = fx.normal(2, 3)
        scalar = lhs[1, 1].clone()
        fx.add(f"{op}_scalar", op, [lhs, scalar], differentiable=False)
    fx.add("argmax_dim0", "argmax", [fx.distinct(3, 4)], {"dim": 0, "keepdim": False},
           differentiable=False)
    fx.add("argmax_dim1_keepdim", "argmax", [fx.distinct(3, 4)], {"dim": 1, "keepdim": True},
           differentiable=False)
    fx.add("argmax_negative_dim_3d", "argmax", [fx.distinct(2, 3, 4)],
           {"dim": -1, "keepdim": False}, differentiable=False)
    fx.add("argmax_flattened", "argmax", [fx.distinct(3, 4)], {"dim": None, "keepdim": False},
           differentiable=False)


def convolution_cases(fx: Fixtures) -> None:
    fx.add("conv2d_basic", "conv2d",
           [fx.normal(1, 2, 4, 4), fx.normal(3, 2, 3, 3), fx.normal(3)],
           {"stride": [1, 1], "padding": [0, 0]})
    fx.add("conv2d_padding1", "conv2d",
           [fx.normal(2, 1, 4, 4), fx.normal(2, 1, 3, 3), fx.normal(2)],
           {"stride": [1, 1], "padding": [1, 1]})
    fx.add("conv2d_stride2_padding1", "conv2d",
           [fx.normal(1, 2, 5, 5), fx.normal(2, 2, 3, 3), fx.normal(2)],
           {"stride": [2, 2], "padding": [1, 1]})
    fx.add("conv2d_non_square", "conv2d",
           [fx.normal(2, 2, 5, 4), fx.normal(3, 2, 3, 2), fx.normal(3)],
           {"stride": [2, 1], "padding": [1, 0]})
    fx.add("conv2d_no_bias", "conv2d",
           [fx.normal(1, 3, 4, 5), fx.normal(2, 3, 2, 2)],
           {"stride": [1, 2], "padding": [0, 1]})
    fx.add("max_pool2d_2x2", "max_pool2d", [fx.distinct(1, 2, 4, 4)],
           {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]})
    fx.add("max_pool2d_overlapping_padded", "max_pool2d", [fx.distinct(2, 1, 5, 5)],
           {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]})
    fx.add("max_pool2d_non_square", "max_pool2d", [fx.distinct(1, 2, 5, 6)],
           {"kernel_size": [2, 3], "stride": [1, 2], "padding": [0, 1]})
    fx.add("avg_pool2d_2x2", "avg_pool2d", [fx.normal(1, 2, 4, 4)],
           {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0],
            "count_include_pad": True})
    fx.add("avg_pool2d_overlapping_padded", "avg_pool2d", [fx.normal(2, 1, 5, 5)],
           {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
            "count_include_pad": True})
    fx.add("avg_pool2d_non_square", "avg_pool2d", [fx.normal(1, 2, 5, 6)],
           {"kernel_size": [2, 3], "stride": [1, 2], "padding": [0, 1],
            "count_include_pad": True})


def loss_cases(fx: Fixtures) -> None:
    fx.add("cross_entropy_mean", "cross_entropy",
           [fx.normal(4, 5, scale=2.0), fx.indices([1, 0, 4, 1])], {"reduction": "mean"})
    fx.add("cross_entropy_sum", "cross_entropy",
           [fx.normal(3, 4, scale=2.0), fx.indices([3, 3, 0])], {"reduction": "sum"})
    log_probs = F.log_softmax(fx.normal(4, 3, scale=2.0), dim=1).to(torch.float32)
    fx.add("nll_loss_mean", "nll_loss", [log_probs, fx.indices([2, 0, 1, 2])],
           {"reduction": "mean"})


# ---------------------------------------------------------------------------

def render(fx: Fixtures) -> str:
    """Header pretty-printed; one case per line so diffs stay readable."""
    header = {
        "generator": "tools/torch-reference/make_op_fixtures.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "encoding": ENCODING,
        "conventions": CONVENTIONS,
    }
    lines = json.dumps(header, indent=1, allow_nan=False)[:-2].splitlines()
    lines[-1] += ","
    lines.append(' "cases": [')
    rendered = [json.dumps(c, allow_nan=False, separators=(",", ":")) for c in fx.cases]
    lines.append(",\n".join(rendered))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    options = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    fx = Fixtures(SEED)
    build_cases(fx)
    used_ops = {c["op"] for c in fx.cases}
    undocumented = used_ops - CONVENTIONS.keys()
    if undocumented:
        raise ValueError(f"ops without a convention entry: {sorted(undocumented)}")
    text = render(fx)
    json.loads(text)  # the hand-built framing must still be valid JSON
    options.output.write_text(text)
    print(f"wrote {len(fx.cases)} cases, {len(text)} bytes to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
