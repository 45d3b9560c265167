"""Python side of the sequence-model training parity test.

  sequence_training_parity.py init OUT.pt
      torch.save({"transformer": state_dict, "lstm": state_dict}) of freshly initialised models
  sequence_training_parity.py train INIT.pt BATCHES.json STEPS
      loads INIT.pt strictly, runs STEPS AdamW steps on the batches, prints {"transformer": [losses], "lstm": [losses]}
  sequence_training_parity.py load FINAL.pt
      loads both state_dicts strictly into fresh models; prints {"loaded": [...]}

The models (Cairn's test builds the same ones under the same names):
  transformer: token Embedding(V, 64), position Embedding(64, 64), two pre-norm
      TransformerEncoderLayer(64, 4, 256, GELU, dropout 0) under a causal mask, LayerNorm, and a
      head tied to the token embedding;
  lstm: Embedding(V, 32), two-layer LSTM(32, 64), Linear(64, V).
"""
import json
import sys

import torch
import torch.nn.functional as F

VOCABULARY = 40
CONTEXT = 64


class TransformerLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCABULARY, 64)
        self.positions = torch.nn.Embedding(CONTEXT, 64)
        self.blocks = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(64, 4, 256, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            for _ in range(2)])
        self.norm = torch.nn.LayerNorm(64)
        self.head = torch.nn.Linear(64, VOCABULARY, bias=False)
        self.head.weight = self.embedding.weight

    def forward(self, tokens):
        length = tokens.shape[1]
        mask = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        x = self.embedding(tokens) + self.positions(torch.arange(length))
        for block in self.blocks:
            x = block(x, src_mask=mask)
        return self.head(self.norm(x))


class LSTMLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCABULARY, 32)
        self.lstm = torch.nn.LSTM(32, 64, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(64, VOCABULARY)

    def forward(self, tokens):
        return self.head(self.lstm(self.embedding(tokens))[0])


def models():
    return {"transformer": TransformerLM(), "lstm": LSTMLM()}


def main():
    command = sys.argv[1]
    torch.set_num_threads(1)
    if command == "init":
        torch.manual_seed(7)
        torch.save({name: model.state_dict() for name, model in models().items()}, sys.argv[2])
    elif command == "train":
        states = torch.load(sys.argv[2], weights_only=True)
        with open(sys.argv[3]) as handle:
            batches = json.load(handle)
        steps = int(sys.argv[4])
        losses = {}
        for name, model in models().items():
            model.load_state_dict(states[name], strict=True)
            model.train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, foreach=False)
            batch = batches[name]
            curve = []
            for step in range(steps):
                tokens = torch.tensor(batch["tokens"][step % len(batch["tokens"])])
                targets = torch.tensor(batch["targets"][step % len(batch["targets"])])
                optimizer.zero_grad()
                logits = model(tokens)
                loss = F.cross_entropy(logits.reshape(-1, VOCABULARY), targets.reshape(-1))
                loss.backward()
                optimizer.step()
                curve.append(loss.item())
            losses[name] = curve
        print(json.dumps(losses))
    elif command == "load":
        states = torch.load(sys.argv[2], weights_only=True)
        loaded = []
        for name, model in models().items():
            model.load_state_dict(states[name], strict=True)
            loaded.append(name)
        print(json.dumps({"loaded": loaded}))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
