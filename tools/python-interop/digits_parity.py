"""Evaluates a Cairn-trained digits model in PyTorch.

  digits_parity.py CKPT ROWS [BATCH_SIZE]

CKPT is a `.ckpt` exported by `ckpt-inspect convert`; ROWS is a CSV with a header
and one validation example per line (label first, then the 64 features exactly as
Cairn feeds them). The PyTorch model mirrors Cairn's `DigitsMLP`: a Sequential of
Linear(64, 128), BatchNorm1d(128), ReLU, Dropout(0.1), Linear(128, 10), so its
state_dict keys (`0.weight`, `1.running_mean`, `4.bias`, ...) are Cairn's own.
Prints JSON: the validation loss and accuracy as Lightning logs them (per-batch
values averaged with batch-size weights), and the checkpoint's epoch and step.
"""
import csv
import json
import sys

import torch
from torch import nn


def digits_mlp(inputs=64, hidden=128, classes=10, dropout=0.1):
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, classes),
    )


def read_rows(path):
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader)  # header
        rows = [[float(cell) for cell in row] for row in reader if row]
    labels = torch.tensor([int(row[0]) for row in rows], dtype=torch.int64)
    features = torch.tensor([row[1:] for row in rows], dtype=torch.float32)
    return features, labels


def main():
    checkpoint_path, rows_path = sys.argv[1], sys.argv[2]
    batch_size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    model = digits_mlp()
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    model.eval()

    features, labels = read_rows(rows_path)
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            batch, targets = features[start:start + batch_size], labels[start:start + batch_size]
            logits = model(batch)
            loss_sum += nn.functional.cross_entropy(logits, targets).item() * len(targets)
            correct += (logits.argmax(dim=1) == targets).sum().item()
    print(json.dumps({
        "val_loss": loss_sum / len(labels),
        "val_acc": correct / len(labels),
        "rows": len(labels),
        "epoch": checkpoint["epoch"],
        "global_step": checkpoint["global_step"],
    }))


if __name__ == "__main__":
    main()
