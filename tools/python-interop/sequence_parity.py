"""Loads state_dicts that Cairn exported into the torch modules they name, strictly, and
compares torch's outputs with the ones Cairn computed.

  sequence_parity.py FILE   FILE is a torch file written by Cairn holding, per case,
                            {"config": {...}, "state_dict": {...}, "input": tensor, "output": tensor}
Prints JSON {case: max |torch - cairn|} on standard output; a strict-load failure raises.
"""
import json
import sys

import torch


def build(config):
    kind = config["layer"]
    if kind == "mha":
        return torch.nn.MultiheadAttention(config["embed"], config["heads"], dropout=0.0, batch_first=config["batch_first"])
    if kind == "encoder":
        return torch.nn.TransformerEncoderLayer(config["embed"], config["heads"], dim_feedforward=config["feedforward"],
                                                dropout=0.0, activation=config["activation"], batch_first=True,
                                                norm_first=config["norm_first"])
    if kind in ("lstm", "gru"):
        cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
        return cls(config["input"], config["hidden"], num_layers=config["layers"], batch_first=True)
    raise ValueError(f"unknown layer {kind}")


def run(module, kind, x):
    if kind == "mha":
        return module(x, x, x, need_weights=False)[0]
    if kind in ("lstm", "gru"):
        return module(x)[0]
    return module(x)


def main():
    cases = torch.load(sys.argv[1], weights_only=True)
    differences = {}
    for name, case in cases.items():
        config = {key: (value.item() if isinstance(value, torch.Tensor) else value) for key, value in case["config"].items()}
        module = build(config)
        module.load_state_dict(case["state_dict"], strict=True)
        module.train()
        with torch.no_grad():
            output = run(module, config["layer"], case["input"])
        differences[name] = float((output - case["output"]).abs().max())
    print(json.dumps(differences))


if __name__ == "__main__":
    main()
