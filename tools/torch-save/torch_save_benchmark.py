"""torch.save + fsync of the state CheckpointBenchmark saves, for comparison.

    python torch_save_benchmark.py DIR LAYERS [REPEATS]

Builds the same float32 tensors (per layer: q/k/v/o 1024x1024 with biases, an
MLP 4096x1024 / 1024x4096 with biases, a norm weight and bias), then times
`torch.save` into DIR/state.pt followed by flush and fsync of the file and of
DIR, REPEATS times (default 2). Prints one line: the seconds of every repeat,
space-separated. Exits with status 3 when torch cannot be imported.
"""
import os
import sys
import time

try:
    import torch
except ImportError:
    sys.exit(3)


def build_state(layers):
    generator = torch.Generator().manual_seed(0)
    state = {}
    for layer in range(layers):
        prefix = f"layers.{layer}"
        for projection in "qkvo":
            state[f"{prefix}.attn.{projection}.weight"] = torch.randn(1024, 1024, generator=generator)
            state[f"{prefix}.attn.{projection}.bias"] = torch.randn(1024, generator=generator)
        state[f"{prefix}.mlp.up.weight"] = torch.randn(4096, 1024, generator=generator)
        state[f"{prefix}.mlp.up.bias"] = torch.randn(4096, generator=generator)
        state[f"{prefix}.mlp.down.weight"] = torch.randn(1024, 4096, generator=generator)
        state[f"{prefix}.mlp.down.bias"] = torch.randn(1024, generator=generator)
        state[f"{prefix}.norm.weight"] = torch.randn(1024, generator=generator)
        state[f"{prefix}.norm.bias"] = torch.randn(1024, generator=generator)
    return {"epoch": 3, "global_step": 12000, "state_dict": state}


def durable_save(checkpoint, directory):
    path = os.path.join(directory, "state.pt")
    start = time.perf_counter()
    with open(path, "wb") as handle:
        torch.save(checkpoint, handle)
        handle.flush()
        os.fsync(handle.fileno())
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return time.perf_counter() - start


def main():
    directory, layers = sys.argv[1], int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(1)
    checkpoint = build_state(layers)
    print(" ".join(f"{durable_save(checkpoint, directory):.6f}" for _ in range(repeats)))
    os.unlink(os.path.join(directory, "state.pt"))


if __name__ == "__main__":
    main()
