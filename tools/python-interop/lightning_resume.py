"""Resumes Lightning training from a `.ckpt` that Cairn exported.

  lightning_resume.py CKPT DIGITS_CSV

Builds a LightningModule with Cairn's DigitsMLP layer names (`0.weight`,
`1.running_mean`, `4.bias`, ...), then runs `Trainer(max_epochs=epoch + 2).fit(
model, ckpt_path=CKPT)` on the digits CSV (pixels / 16, batches of 64): one more
epoch than the checkpoint's. Prints JSON: the epoch and step Lightning resumed at,
where it ended, the batches it trained, whether the weights at the start were the
checkpoint's, and Adam's per-parameter step counts at the end.
"""
import csv
import json
import sys

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from digits_parity import digits_mlp  # noqa: E402  (the layers the parity test checks)


class DigitsModule(L.LightningModule):
    def __init__(self, lr=3e-3):
        super().__init__()
        # The layers sit directly on the module, so state_dict keys match Cairn's.
        for name, layer in digits_mlp().named_children():
            self.add_module(name, layer)
        self.lr = lr
        self.resumed_at = None
        self.weights_at_start = None
        self.batches_trained = 0

    def forward(self, features):
        for layer in self.children():
            features = layer(features)
        return features

    def on_train_start(self):
        self.resumed_at = {"epoch": self.trainer.current_epoch, "global_step": self.trainer.global_step}
        self.weights_at_start = {key: value.detach().clone() for key, value in self.state_dict().items()}

    def training_step(self, batch, batch_index):
        features, labels = batch
        self.batches_trained += 1
        return nn.functional.cross_entropy(self(features), labels)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def digits_loader(path, batch_size=64):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    columns = [name for name in reader.fieldnames if name != "label"]
    features = torch.tensor([[float(row[name]) / 16 for name in columns] for row in rows], dtype=torch.float32)
    labels = torch.tensor([int(float(row["label"])) for row in rows], dtype=torch.int64)
    return DataLoader(TensorDataset(features, labels), batch_size=batch_size, shuffle=True)


def main():
    checkpoint_path, digits_path = sys.argv[1], sys.argv[2]
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    torch.manual_seed(0)
    model = DigitsModule()
    trainer = L.Trainer(max_epochs=checkpoint["epoch"] + 2, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, train_dataloaders=digits_loader(digits_path), ckpt_path=checkpoint_path)
    exported = checkpoint["state_dict"]
    optimizer = trainer.optimizers[0]
    print(json.dumps({
        "resumed_at": model.resumed_at,
        "ended_at": {"epoch": trainer.current_epoch, "global_step": trainer.global_step},
        "batches_trained": model.batches_trained,
        "weights_at_start_match": all(torch.equal(model.weights_at_start[key], exported[key]) for key in exported),
        "adam_steps": [float(optimizer.state[parameter]["step"]) for parameter in model.parameters()],
    }))


if __name__ == "__main__":
    main()
