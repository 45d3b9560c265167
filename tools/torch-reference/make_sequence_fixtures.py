#!/usr/bin/env python3
"""Write Fixtures/torch-sequence.json: PyTorch reference numbers for CairnNN's sequence layers.

Each case builds one torch module (MultiheadAttention, Transformer encoder and decoder layers, RMSNorm, LSTM, GRU) with
random float32 weights, records its state_dict under torch's own names, runs it in training
mode with dropout 0 (so that torch's fused inference path is not taken) on fixed inputs and
masks, and records the outputs and the gradients of sum(output * upstream) for the input and
every parameter. Tests load the state_dict strictly into the Swift layer and compare.

    ~/.cache/cairn/venv/bin/python tools/torch-reference/make_sequence_fixtures.py
"""

from __future__ import annotations

import argparse
import json
import pathlib

import torch

SEED = 20261208
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "Fixtures" / "torch-sequence.json"


def encode(tensor: torch.Tensor) -> dict:
    dtype = {torch.int64: "I64", torch.bool: "BOOL"}.get(tensor.dtype, "F32")
    return {"dtype": dtype, "shape": list(tensor.shape),
            "values": [float(x) for x in tensor.detach().to(torch.float64).reshape(-1).tolist()]}


def randomize(module: torch.nn.Module, rand) -> None:
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(rand(*parameter.shape) * 0.5)


def run(name: str, module: torch.nn.Module, config: dict, x: torch.Tensor, rand, call) -> dict:
    """`call(module, x)` returns the outputs; the first gets the upstream gradient."""
    randomize(module, rand)
    module.train()
    x = x.clone().requires_grad_()
    outputs = call(module, x)
    upstream = rand(*outputs[0].shape)
    (outputs[0] * upstream).sum().backward()
    return {"name": name, "config": config,
            "state": {key: encode(value) for key, value in module.state_dict().items()},
            "input": encode(x), "outputs": [encode(o) for o in outputs], "upstream": encode(upstream),
            "input_gradient": encode(x.grad),
            "parameter_gradients": {key: encode(p.grad) for key, p in module.named_parameters()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(SEED)

    def rand(*shape):
        return torch.randn(*shape, generator=generator)

    causal = torch.nn.Transformer.generate_square_subsequent_mask(5).isinf()  # True above the diagonal
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    cases = []

    mha = torch.nn.MultiheadAttention(8, 2, dropout=0.0)
    cases.append(run("mha_self_sequence_first", mha, {"layer": "mha", "embed": 8, "heads": 2, "batch_first": False},
                     rand(5, 2, 8), rand, lambda m, x: [m(x, x, x, need_weights=False)[0]]))
    mha = torch.nn.MultiheadAttention(8, 2, dropout=0.0, batch_first=True)
    cases.append(run("mha_causal_and_padding", mha,
                     {"layer": "mha", "embed": 8, "heads": 2, "batch_first": True, "causal": 5, "padding": encode(padding)},
                     rand(2, 5, 8), rand,
                     lambda m, x: list(m(x, x, x, key_padding_mask=padding, attn_mask=causal, need_weights=True))))
    for norm_first, activation in ((False, "relu"), (True, "gelu")):
        layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                                 batch_first=True, norm_first=norm_first)
        masked = norm_first
        config = {"layer": "encoder", "embed": 8, "heads": 2, "feedforward": 16, "activation": activation,
                  "norm_first": norm_first, "batch_first": True}
        if masked:
            config |= {"causal": 5, "padding": encode(padding)}
        cases.append(run(f"encoder_{'pre' if norm_first else 'post'}_norm_{activation}", layer, config, rand(2, 5, 8), rand,
                         lambda m, x, masked=masked: [m(x, src_mask=causal if masked else None,
                                                        src_key_padding_mask=padding if masked else None)]))
    norm = torch.nn.RMSNorm([8])
    cases.append(run("rmsnorm", norm, {"layer": "rmsnorm", "shape": [8]}, rand(2, 3, 8), rand, lambda m, x: [m(x)]))
    for kind in ("lstm", "gru"):
        for batch_first in (True, False):
            module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(3, 5, num_layers=2, batch_first=batch_first)
            shape = (2, 4, 3) if batch_first else (4, 2, 3)

            def call(m, x, kind=kind):
                output, state = m(x)
                return [output, *(state if kind == "lstm" else (state,))]
            cases.append(run(f"{kind}_two_layers_{'batch_first' if batch_first else 'sequence_first'}", module,
                             {"layer": kind, "input": 3, "hidden": 5, "layers": 2, "batch_first": batch_first},
                             rand(*shape), rand, call))

    memory = rand(2, 3, 8)
    for norm_first in (False, True):
        layer = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first)
        config = {"layer": "decoder", "embed": 8, "heads": 2, "feedforward": 16, "activation": "relu",
                  "norm_first": norm_first, "batch_first": True, "causal": 5, "memory": encode(memory)}
        cases.append(run(f"decoder_{'pre' if norm_first else 'post'}_norm", layer, config, rand(2, 5, 8), rand,
                         lambda m, x: [m(x, memory, tgt_mask=causal)]))

    fixture = {"torch_version": torch.__version__, "seed": SEED, "cases": cases}
    args.output.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {args.output}")


if __name__ == "__main__":
    main()
