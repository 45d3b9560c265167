#!/usr/bin/env python3
"""Write Fixtures/torch-nn.json: PyTorch reference numbers for CairnNN and CairnOptim.

Three sections:
  optimizers  every optimizer and option set, run several steps (some with two param
              groups) from fixed float32 parameters and fixed per-step gradients; records
              the parameters after each step and torch's final optimizer state.
  layers      Linear, BatchNorm1d/2d (train then eval), LayerNorm and Conv2d outputs for
              fixed weights and inputs, with the gradients of sum(output * upstream) for the
              (first, training-mode) input and every parameter; plus cross-entropy losses.
  init        statistics of torch's default initialisation (per layer shape), against which
              the Swift init (same distribution, different generator) is checked loosely.

Unlike make_op_fixtures.py, the numbers here are torch's own float32 results (the
single-tensor optimizer path, foreach=False), because the Swift optimizers copy that
arithmetic order; tests compare within float32 tolerance. Run with the torch venv:

    /work/venv-torch/bin/python tools/torch-reference/make_nn_fixtures.py
"""

from __future__ import annotations

import argparse
import json
import pathlib

import torch
import torch.nn.functional as F

SEED = 20261129
STEPS = 5
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "Fixtures" / "torch-nn.json"

# Options the Swift optimizers understand; torch's other group keys (foreach, fused, …) are dropped.
KNOWN_OPTIONS = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize",
                 "betas", "eps", "amsgrad", "alpha", "centered"]


def values(tensor: torch.Tensor) -> list[float]:
    return [float(x) for x in tensor.detach().reshape(-1).tolist()]


def encode(tensor: torch.Tensor) -> dict:
    dtype = "I64" if tensor.dtype == torch.int64 else "F32"
    return {"dtype": dtype, "shape": list(tensor.shape), "values": values(tensor)}


def optimizer_case(name: str, kind: str, groups: list[dict], generator: torch.Generator) -> dict:
    """Runs `kind` over params split into `groups` (each: indices and option overrides)."""
    shapes = [[3, 4], [4], [2, 2]]
    params = [torch.randn(shape, generator=generator).requires_grad_() for shape in shapes]
    initial = [encode(p) for p in params]
    grads = [[torch.randn(shape, generator=generator) for shape in shapes] for _ in range(STEPS)]
    torch_groups = [{"params": [params[i] for i in g["params"]], **g["options"]} for g in groups]
    optimizer = getattr(torch.optim, kind)(torch_groups, foreach=False)
    after = []
    for step_grads in grads:
        optimizer.zero_grad()
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        optimizer.step()
        after.append([values(p) for p in params])
    state = optimizer.state_dict()
    final_state = {
        str(index): {key: encode(value) if torch.is_tensor(value) else value for key, value in entry.items()}
        for index, entry in state["state"].items()
    }
    param_groups = [
        {key: (list(value) if isinstance(value, tuple) else value)
         for key, value in group.items() if key in KNOWN_OPTIONS + ["params"]}
        for group in state["param_groups"]
    ]
    return {
        "name": name, "optimizer": kind, "params": initial,
        "grads": [[values(g) for g in step] for step in grads],
        "params_after_step": after, "state": final_state, "param_groups": param_groups,
    }


def optimizer_cases(generator: torch.Generator) -> list[dict]:
    one = lambda **options: [{"params": [0, 1, 2], "options": options}]
    two = lambda first, second: [{"params": [0, 1], "options": first}, {"params": [2], "options": second}]
    specs = [
        ("sgd", "SGD", one(lr=0.1)),
        ("sgd_momentum", "SGD", one(lr=0.05, momentum=0.9)),
        ("sgd_dampening_wd", "SGD", one(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
        ("sgd_nesterov_groups", "SGD", two({"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.02},
                                           {"lr": 0.2, "momentum": 0.5})),
        ("sgd_maximize", "SGD", one(lr=0.1, momentum=0.5, maximize=True)),
        ("adam", "Adam", one(lr=0.01)),
        ("adam_wd_amsgrad", "Adam", one(lr=0.02, weight_decay=0.1, amsgrad=True)),
        ("adam_maximize", "Adam", one(lr=0.01, maximize=True, betas=(0.85, 0.99))),
        ("adam_groups", "Adam", two({"lr": 0.01, "betas": (0.8, 0.95)}, {"lr": 0.05, "eps": 1e-6, "weight_decay": 0.01})),
        ("adamw", "AdamW", one(lr=0.01, weight_decay=0.05)),
        ("adamw_amsgrad_groups", "AdamW", two({"lr": 0.01, "amsgrad": True}, {"lr": 0.03, "weight_decay": 0.2})),
        ("rmsprop", "RMSprop", one(lr=0.01)),
        ("rmsprop_maximize_centered", "RMSprop", one(lr=0.01, maximize=True, centered=True, weight_decay=0.05)),
        ("rmsprop_momentum_wd", "RMSprop", one(lr=0.01, momentum=0.9, weight_decay=0.01, alpha=0.9)),
        ("rmsprop_centered_groups", "RMSprop", two({"lr": 0.01, "centered": True}, {"lr": 0.005, "centered": True, "momentum": 0.5})),
    ]
    return [optimizer_case(name, kind, groups, generator) for name, kind, groups in specs]


def forward_with_gradients(module: torch.nn.Module, x: torch.Tensor, rand) -> tuple[torch.Tensor, dict]:
    """Output of module(x) and the gradients of sum(output * upstream) for a random upstream."""
    x = x.clone().requires_grad_()
    module.zero_grad()
    y = module(x)
    upstream = rand(*y.shape)
    (y * upstream).sum().backward()
    return y, {"upstream": encode(upstream), "input": encode(x.grad),
               "parameters": {name: encode(p.grad) for name, p in module.named_parameters()}}


def layer_cases(generator: torch.Generator) -> list[dict]:
    rand = lambda *shape: torch.randn(*shape, generator=generator)
    cases = []

    x = rand(4, 5)
    linear = torch.nn.Linear(5, 3)
    with torch.no_grad():
        linear.weight.copy_(rand(3, 5)); linear.bias.copy_(rand(3))
    y, gradients = forward_with_gradients(linear, x, rand)
    cases.append({"name": "linear", "layer": "Linear", "state": {k: encode(v) for k, v in linear.state_dict().items()},
                  "inputs": [encode(x)], "outputs": [encode(y)], "gradients": gradients})

    for name, module, shapes in [("batchnorm1d", torch.nn.BatchNorm1d(3), [(6, 3), (5, 3, 4)]),
                                 ("batchnorm2d", torch.nn.BatchNorm2d(2, momentum=0.2), [(3, 2, 4, 4), (2, 2, 3, 3)])]:
        with torch.no_grad():
            module.weight.copy_(rand(module.num_features)); module.bias.copy_(rand(module.num_features))
        initial = {k: encode(v) for k, v in module.state_dict().items()}
        inputs = [rand(*shape) * 2 + 0.5 for shape in shapes]
        module.train()
        first_output, gradients = forward_with_gradients(module, inputs[0], rand)
        train_outputs = [first_output] + [module(x) for x in inputs[1:]]
        after_train = {k: encode(v) for k, v in module.state_dict().items()}
        module.eval()
        eval_outputs = [module(x) for x in inputs]
        cases.append({"name": name, "layer": module.__class__.__name__, "momentum": module.momentum, "state": initial,
                      "inputs": [encode(x) for x in inputs], "outputs": [encode(y) for y in train_outputs],
                      "state_after_train": after_train, "eval_outputs": [encode(y) for y in eval_outputs],
                      "gradients": gradients})

    for normalized in ([5], [4, 5]):
        norm = torch.nn.LayerNorm(normalized)
        with torch.no_grad():
            norm.weight.copy_(rand(*normalized)); norm.bias.copy_(rand(*normalized))
        x = rand(3, 4, 5) * 3
        y, gradients = forward_with_gradients(norm, x, rand)
        cases.append({"name": f"layernorm_{len(normalized)}d", "layer": "LayerNorm", "normalized_shape": normalized,
                      "state": {k: encode(v) for k, v in norm.state_dict().items()},
                      "inputs": [encode(x)], "outputs": [encode(y)], "gradients": gradients})

    for stride, padding in ((1, 0), (2, 1)):
        conv = torch.nn.Conv2d(2, 3, 3, stride=stride, padding=padding)
        with torch.no_grad():
            conv.weight.copy_(rand(3, 2, 3, 3)); conv.bias.copy_(rand(3))
        x = rand(2, 2, 5, 6)
        y, gradients = forward_with_gradients(conv, x, rand)
        cases.append({"name": f"conv2d_s{stride}_p{padding}", "layer": "Conv2d", "stride": stride, "padding": padding,
                      "state": {k: encode(v) for k, v in conv.state_dict().items()},
                      "inputs": [encode(x)], "outputs": [encode(y)], "gradients": gradients})

    logits = rand(6, 4)
    targets = torch.tensor([0, 3, 1, 1, 2, 3])
    weight = torch.tensor([0.5, 2.0, 1.0, 3.0])
    for smoothing in (0.0, 0.2):
        for use_weight in (False, True):
            for ignore_index in (-100, 3):
                loss = F.cross_entropy(logits, targets, weight=weight if use_weight else None,
                                       label_smoothing=smoothing, ignore_index=ignore_index)
                cases.append({"name": f"cross_entropy_ls{smoothing}_w{int(use_weight)}_ignore{ignore_index}",
                              "layer": "cross_entropy", "label_smoothing": smoothing, "ignore_index": ignore_index,
                              "weight": values(weight) if use_weight else None,
                              "inputs": [encode(logits)], "targets": targets.tolist(), "outputs": [encode(loss)]})

    # Sequence logits [B, T, V] against [B, T] targets, as a language model is trained, and
    # the same logits in torch's own [N, C, d] layout; with smoothing, an ignored index, and
    # per-position losses. Appended last so that the cases above keep their numbers.
    logits = rand(2, 5, 4)
    targets = torch.tensor([[0, 3, 1, 1, 2], [3, 2, 2, 0, 1]])
    for smoothing, ignore_index, reduction in ((0.0, -100, "mean"), (0.1, 2, "mean"), (0.0, 3, "sum"), (0.2, 1, "none")):
        flat = F.cross_entropy(logits.reshape(-1, 4), targets.reshape(-1), label_smoothing=smoothing,
                               ignore_index=ignore_index, reduction=reduction)
        channels = F.cross_entropy(logits.transpose(1, 2), targets, label_smoothing=smoothing,
                                   ignore_index=ignore_index, reduction=reduction)
        if reduction == "none":
            flat = flat.reshape(targets.shape)
        cases.append({"name": f"sequence_cross_entropy_ls{smoothing}_ignore{ignore_index}_{reduction}",
                      "layer": "sequence_cross_entropy", "label_smoothing": smoothing, "ignore_index": ignore_index,
                      "reduction": reduction, "inputs": [encode(logits)], "targets": targets.tolist(),
                      "outputs": [encode(flat), encode(channels)]})
    return cases


def init_cases() -> list[dict]:
    torch.manual_seed(SEED)
    cases = []
    for name, module, fan_in in [("linear_100_200", torch.nn.Linear(100, 200), 100),
                                 ("conv2d_4_8_k3", torch.nn.Conv2d(4, 8, 3), 36)]:
        for key, tensor in module.state_dict().items():
            cases.append({"name": f"{name}.{key}", "fan_in": fan_in, "shape": list(tensor.shape),
                          "max_abs": float(tensor.abs().max()), "std": float(tensor.std()),
                          "bound": 1 / fan_in ** 0.5})
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(SEED)
    fixture = {
        "torch_version": torch.__version__,
        "seed": SEED,
        "optimizers": optimizer_cases(generator),
        "layers": layer_cases(generator),
        "init": init_cases(),
    }
    args.output.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
