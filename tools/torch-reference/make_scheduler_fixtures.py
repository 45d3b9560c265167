#!/usr/bin/env python3
"""Write Fixtures/torch-schedulers.json: PyTorch's learning-rate sequences and state dicts.

For each scheduler configuration, an optimizer with two param groups (lr 0.1 and 0.05) is
built, the scheduler attached, and the scheduler stepped STEPS times (ReduceLROnPlateau with
a fixed metric sequence). Recorded per configuration:
  lrs         the lr of each group after construction, then after every step (STEPS + 1 rows)
  momentums   OneCycleLR only: SGD momentum / Adam beta1 of each group, same rows
  state_k     the step count k at which the state dicts below were taken
  state       scheduler.state_dict() after k steps; closures (lr_lambdas) become null,
              Counter keys become strings, infinities the strings "inf" / "-inf"
  groups      the optimizer's param-group options after k steps (params dropped)

Deterministic (no randomness). Run with the torch venv:

    /work/venv-torch/bin/python tools/torch-reference/make_scheduler_fixtures.py
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
from collections import Counter

import torch
from torch.optim import lr_scheduler as sched

STEPS = 30
STATE_STEP = 7
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "Fixtures" / "torch-schedulers.json"
GROUP_OPTIONS = ["lr", "initial_lr", "momentum", "betas", "max_lr", "min_lr", "max_momentum", "base_momentum"]
PLATEAU_METRICS = [1.0, 0.9, 0.85, 0.86, 0.849, 0.85, 0.9, 0.7, 0.71, 0.72, 0.73, 0.74, 0.695, 0.69, 0.9,
                   0.95, 0.96, 0.5, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.4, 0.41, 0.42, 0.43, 0.44, 0.45]


def optimizer(kind: str) -> torch.optim.Optimizer:
    weights = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    groups = [{"params": [weights[0]], "lr": 0.1}, {"params": [weights[1]], "lr": 0.05}]
    if kind == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def plain(value):
    """A state_dict value as JSON: closures null, Counter keys strings, infinities strings."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (Counter, dict)):
        return {str(key): plain(entry) for key, entry in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(entry) for entry in value]
    if callable(value):
        return None
    raise TypeError(f"unexpected state value {value!r}")


def build(name: str, opt):
    if name == "step":
        return sched.StepLR(opt, step_size=5, gamma=0.5)
    if name == "multistep":
        return sched.MultiStepLR(opt, milestones=[3, 8, 8, 15], gamma=0.3)
    if name == "exponential":
        return sched.ExponentialLR(opt, gamma=0.9)
    if name == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    if name == "linear":
        return sched.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=6)
    if name == "lambda":
        return sched.LambdaLR(opt, [lambda epoch: 0.95 ** epoch, lambda epoch: 1.0 / (1.0 + epoch)])
    if name == "onecycle_cos":
        return sched.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=STEPS)
    if name == "onecycle_linear_three_phase":
        return sched.OneCycleLR(opt, max_lr=0.01, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear",
                                three_phase=True, div_factor=10.0, final_div_factor=100.0)
    if name == "sequential_linear_cosine":
        warmup = sched.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=4)
        cosine = sched.CosineAnnealingLR(opt, T_max=20, eta_min=1e-4)
        return sched.SequentialLR(opt, [warmup, cosine], milestones=[5])
    if name == "plateau_min_cooldown":
        return sched.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=2,
                                       min_lr=[0.01, 0.005])
    if name == "plateau_max_abs":
        return sched.ReduceLROnPlateau(opt, mode="max", factor=0.2, patience=1, threshold=0.05,
                                       threshold_mode="abs", min_lr=0.001)
    raise ValueError(name)


CONFIGS = [("step", "sgd"), ("multistep", "sgd"), ("exponential", "sgd"), ("cosine", "sgd"), ("linear", "sgd"),
           ("lambda", "sgd"), ("onecycle_cos", "sgd"), ("onecycle_linear_three_phase", "adam"),
           ("sequential_linear_cosine", "sgd"), ("plateau_min_cooldown", "sgd"), ("plateau_max_abs", "sgd")]


def case(name: str, kind: str) -> dict:
    opt = optimizer(kind)
    scheduler = build(name, opt)
    plateau = isinstance(scheduler, sched.ReduceLROnPlateau)
    onecycle = isinstance(scheduler, sched.OneCycleLR)

    def momentum_row():
        return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]

    lrs = [[g["lr"] for g in opt.param_groups]]
    momentums = [momentum_row()]
    state = groups = None
    for step in range(1, STEPS + 1):
        opt.step()
        if plateau:
            scheduler.step(PLATEAU_METRICS[step - 1])
        else:
            scheduler.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        momentums.append(momentum_row())
        if step == STATE_STEP:
            state = plain(scheduler.state_dict())
            groups = [{key: plain(g[key]) for key in GROUP_OPTIONS if key in g} for g in opt.param_groups]
    result = {"name": name, "optimizer": kind, "lrs": lrs, "state_k": STATE_STEP, "state": state, "groups": groups}
    if onecycle:
        result["momentums"] = momentums
    if plateau:
        result["metrics"] = PLATEAU_METRICS
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    cases = [case(name, kind) for name, kind in CONFIGS]
    document = {"generator": "tools/torch-reference/make_scheduler_fixtures.py", "torch_version": torch.__version__,
                "steps": STEPS, "cases": cases}
    lines = ",\n  ".join(json.dumps(c, allow_nan=False) for c in cases)
    header = json.dumps({k: v for k, v in document.items() if k != "cases"})[:-1]
    args.output.write_text(f'{header}, "cases": [\n  {lines}\n]}}\n')
    print(f"wrote {len(cases)} cases to {args.output}")


if __name__ == "__main__":
    main()
