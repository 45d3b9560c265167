#!/usr/bin/env python3
"""Write Fixtures/lightning-tuning.json: what Lightning's fine-tuning, weight-averaging and
finder callbacks compute, for the Swift tests of their Cairn counterparts.

Recorded (all deterministic, no training):
  lr_finder_schedules    the rate _LRCallback records before each step of the sweep, for
                         Lightning's _ExponentialLR and _LinearLR
  lr_finder_smoothing    raw losses fed to _LRCallback.on_train_batch_end (a stand-in trainer),
                         the smoothed losses it keeps and the step at which it asks to stop
  lr_finder_suggestion   _LRFinder.suggestion() for a fixed sweep (with a NaN loss)
  swalr                  torch's SWALR as Lightning's StochasticWeightAveraging builds it: the
                         group rates after construction and after each epoch step
  swa_average            StochasticWeightAveraging.update_parameters over four weight sets
  ema_average            EMAWeightAveraging's AveragedModel over the same four weight sets
  ema_buffers            the same over a batch-norm layer's buffers (int64 num_batches_tracked included)
  backbone_rates         BackboneFinetuning.finetune_function's group rates, epoch by epoch

Float32 values are written as the float64 numbers they equal, so they read back exactly.

    /work/venv-torch/bin/python tools/torch-reference/make_tuning_fixtures.py
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
from types import SimpleNamespace

import lightning
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import BackboneFinetuning, EMAWeightAveraging, StochasticWeightAveraging
from lightning.pytorch.tuner.lr_finder import _ExponentialLR, _LinearLR, _LRCallback, _LRFinder
from torch.optim.swa_utils import SWALR

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "Fixtures" / "lightning-tuning.json"


def finite(value: float):
    return None if math.isnan(value) else value


def sweep_rates(mode: str, min_lr: float, max_lr: float, steps: int) -> list[float]:
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=min_lr)
    for group in optimizer.param_groups:
        group["initial_lr"] = min_lr
    scheduler = (_ExponentialLR if mode == "exponential" else _LinearLR)(optimizer, max_lr, steps)
    rates = []
    for _ in range(steps):
        rates.append(scheduler.lr[0])
        optimizer.step()
        scheduler.step()
    return rates


def smoothing(raw_losses: list[float], threshold: float) -> dict:
    callback = _LRCallback(num_training=len(raw_losses), early_stop_threshold=threshold)
    trainer = SimpleNamespace(fit_loop=SimpleNamespace(batch_idx=0), accumulate_grad_batches=1, global_step=0,
                              should_stop=False, strategy=SimpleNamespace(broadcast=lambda value: value))
    stopped_at = None
    for step, loss in enumerate(raw_losses):
        trainer.global_step = step + 1
        callback.on_train_batch_end(trainer, None, torch.tensor(loss), None, step)
        if trainer.should_stop and stopped_at is None:
            stopped_at = step
            break
    return {"raw": raw_losses, "threshold": threshold, "smoothed": callback.losses, "stopped_at_step": stopped_at}


def suggestion() -> dict:
    rates = sweep_rates("exponential", 1e-5, 1.0, 40)
    losses = []
    for index, rate in enumerate(rates):
        exponent = math.log10(rate)
        losses.append(2 - math.tanh(1.5 * (exponent + 2.5)) + 0.8 * max(0.0, exponent + 0.7) ** 2 + 0.01 * (index % 3))
    losses[17] = float("nan")
    finder = _LRFinder("exponential", 1e-5, 1.0, 40)
    finder.results = {"lr": rates, "loss": losses}
    return {"lr": rates, "loss": [finite(value) for value in losses], "suggestion": finder.suggestion(),
            "index": finder._optimal_idx}


def swalr(swa_lrs: list[float], anneal_epochs: int, strategy: str, last_epoch: int, steps: int) -> dict:
    weights = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    optimizer = torch.optim.SGD([{"params": [weights[0]], "lr": 0.1}, {"params": [weights[1]], "lr": 0.05}])
    for rate, group in zip(swa_lrs, optimizer.param_groups):
        group["initial_lr"] = rate
    scheduler = SWALR(optimizer, swa_lr=swa_lrs, anneal_epochs=anneal_epochs, anneal_strategy=strategy,
                      last_epoch=last_epoch)
    rows = [[group["lr"] for group in optimizer.param_groups]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rows.append([group["lr"] for group in optimizer.param_groups])
    return {"swa_lrs": swa_lrs, "anneal_epochs": anneal_epochs, "strategy": strategy, "rates": rows}


class Tiny(LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)


def weight_sets() -> list[dict[str, list[float]]]:
    generator = torch.Generator().manual_seed(20261129)
    sets = []
    for _ in range(4):
        sets.append({"layer.weight": torch.randn(2, 3, generator=generator).tolist(),
                     "layer.bias": torch.randn(2, generator=generator).tolist()})
    return sets


def load(module: torch.nn.Module, weights: dict[str, list]) -> None:
    with torch.no_grad():
        module.layer.weight.copy_(torch.tensor(weights["layer.weight"]))
        module.layer.bias.copy_(torch.tensor(weights["layer.bias"]))


def flat(module: torch.nn.Module) -> dict[str, list[float]]:
    return {"layer.weight": module.layer.weight.detach().flatten().tolist(),
            "layer.bias": module.layer.bias.detach().flatten().tolist()}


def swa_average(sets) -> dict[str, list[float]]:
    model, average = Tiny(), Tiny()
    count = torch.tensor(0, dtype=torch.long)
    for weights in sets:
        load(model, weights)
        StochasticWeightAveraging.update_parameters(average, model, count, StochasticWeightAveraging.avg_fn)
    return flat(average)


def ema_average(sets, decay: float) -> dict[str, list[float]]:
    model = Tiny()
    callback = EMAWeightAveraging(decay=decay)
    callback.setup(SimpleNamespace(), model, "fit")
    for weights in sets:
        load(model, weights)
        callback._average_model.update_parameters(model)
    return flat(callback._average_model.module)


class Normalized(LightningModule):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(2)


def ema_buffers(decay: float) -> dict:
    """EMA over a batch-norm layer's buffers (use_buffers, Lightning's default); the int64
    num_batches_tracked goes through float32 arithmetic and truncates back."""
    model = Normalized()
    callback = EMAWeightAveraging(decay=decay)
    callback.setup(SimpleNamespace(), model, "fit")
    sets = [{"norm.running_mean": [0.5, -1.25], "norm.running_var": [1.5, 0.75], "norm.num_batches_tracked": 3},
            {"norm.running_mean": [0.25, -1.0], "norm.running_var": [1.25, 0.5], "norm.num_batches_tracked": 7},
            {"norm.running_mean": [1.0, 0.5], "norm.running_var": [2.0, 0.25], "norm.num_batches_tracked": 12}]
    for values in sets:
        with torch.no_grad():
            model.norm.running_mean.copy_(torch.tensor(values["norm.running_mean"]))
            model.norm.running_var.copy_(torch.tensor(values["norm.running_var"]))
            model.norm.num_batches_tracked.fill_(values["norm.num_batches_tracked"])
        callback._average_model.update_parameters(model)
    averaged = callback._average_model.module.norm
    return {"decay": decay, "sets": sets,
            "average": {"norm.running_mean": averaged.running_mean.tolist(), "norm.running_var": averaged.running_var.tolist(),
                        "norm.num_batches_tracked": int(averaged.num_batches_tracked.item())}}


class WithBackbone(LightningModule):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(3, 6)
        self.head = torch.nn.Linear(6, 2)


def backbone_rates(multiplier: float, should_align: bool, epochs: int) -> dict:
    module = WithBackbone()
    callback = BackboneFinetuning(unfreeze_backbone_at_epoch=1, lambda_func=lambda epoch: multiplier,
                                  should_align=should_align)
    callback.freeze_before_training(module)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=0.05)
    rows = []
    for epoch in range(epochs):
        callback.finetune_function(module, epoch, optimizer)
        rows.append([group["lr"] for group in optimizer.param_groups])
    return {"multiplier": multiplier, "should_align": should_align, "rates": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    output = parser.parse_args().output
    torch.set_num_threads(1)
    sets = weight_sets()
    fixture = {
        "generator": "tools/torch-reference/make_tuning_fixtures.py",
        "torch_version": torch.__version__,
        "lightning_version": lightning.__version__,
        "lr_finder_schedules": [
            {"mode": "exponential", "min_lr": 1e-4, "max_lr": 1.0, "steps": 30, "rates": sweep_rates("exponential", 1e-4, 1.0, 30)},
            {"mode": "linear", "min_lr": 0.1, "max_lr": 1.1, "steps": 10, "rates": sweep_rates("linear", 0.1, 1.1, 10)},
        ],
        "lr_finder_smoothing": smoothing([2.0, 1.8, 1.7, 1.5, 1.45, 1.3, 1.6, 2.5, 4.0, 9.0, 30.0, 90.0], threshold=4.0),
        "lr_finder_suggestion": suggestion(),
        "swalr": [
            swalr([0.02, 0.01], 3, "cos", 10, 6),
            swalr([0.02, 0.01], 2, "linear", -1, 5),
            swalr([0.03, 0.03], 0, "cos", 10, 3),
        ],
        "weight_sets": [{name: torch.tensor(values).flatten().tolist() for name, values in weights.items()} for weights in sets],
        "swa_average": swa_average(sets),
        "ema_average": {"decay": 0.9, "average": ema_average(sets, 0.9)},
        "ema_buffers": ema_buffers(0.9),
        "backbone_rates": [backbone_rates(2.0, True, 6), backbone_rates(1.5, False, 5)],
    }
    output.write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    main()
