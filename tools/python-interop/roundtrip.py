"""Python side of Cairn's interop round-trip tests.

  roundtrip.py summarize-safetensors FILE   -> JSON {name: {dtype, shape, values}} and metadata
  roundtrip.py write-safetensors FILE       -> writes known tensors with the safetensors package
  roundtrip.py summarize-torch FILE         -> torch.load(weights_only=True), summarized as JSON
  roundtrip.py write-torch FILE             -> torch.save of a small nested checkpoint
  roundtrip.py torch-storages FILE          -> {"/path/of/tensor": storage number}: equal numbers share memory
  roundtrip.py write-torch-legacy FILE      -> the write-torch checkpoint in the format before torch 1.6
  roundtrip.py write-torch-deflated FILE    -> the write-torch checkpoint, every zip member deflated
"""
import json
import math
import sys


def finite_or_text(x):
    """Strict JSON has no inf/nan; spell those as text."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def summarize_array(array):
    return {"dtype": str(array.dtype), "shape": list(array.shape),
            "values": [finite_or_text(x) for x in array.reshape(-1).tolist()]}


def summarize_tree(value):
    import torch
    if isinstance(value, torch.Tensor):
        return {"tensor": summarize_array(value.detach().to(torch.float64).numpy()) | {"dtype": str(value.dtype)}}
    if isinstance(value, dict):
        return {"dict": [[k, summarize_tree(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"list": [summarize_tree(v) for v in value]}
    if isinstance(value, float):
        return {"leaf": finite_or_text(value)}
    return {"leaf": value}


def storage_numbers(value, path="", numbers=None, found=None):
    """Numbers each distinct storage (by data_ptr) in first-seen order, per tensor path."""
    import torch
    numbers = {} if numbers is None else numbers
    found = {} if found is None else found
    if isinstance(value, torch.Tensor):
        pointer = value.untyped_storage().data_ptr()
        found[path] = numbers.setdefault(pointer, len(numbers))
    elif isinstance(value, dict):
        for key, child in value.items():
            storage_numbers(child, f"{path}/{key}", numbers, found)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            storage_numbers(child, f"{path}/{index}", numbers, found)
    return found


def small_checkpoint():
    """A small nested checkpoint: views of one storage, a strided view, bf16, scalars."""
    import collections
    import torch
    weight = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    state = collections.OrderedDict([("w", weight), ("w_t", weight.t()), ("row", weight[1])])
    return {"epoch": 2, "state_dict": state, "optimizer_states": [{"state": {0: {"step": torch.tensor(3.0)}}}],
            "bf16": torch.tensor([1.0, -2.0], dtype=torch.bfloat16), "flag": True, "name": "torch"}


def main():
    command, path = sys.argv[1], sys.argv[2]
    if command == "summarize-safetensors":
        from safetensors import safe_open
        from safetensors.numpy import load_file
        with safe_open(path, framework="numpy") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(path)
        print(json.dumps({"metadata": metadata, "tensors": {k: summarize_array(v) for k, v in tensors.items()}}))
    elif command == "write-safetensors":
        import numpy as np
        from safetensors.numpy import save_file
        save_file({
            "layer.weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 8,
            "layer.bias": np.array([-1.5, 2.25], dtype=np.float64),
            "steps": np.array(7, dtype=np.int64),
            "mask": np.array([True, False, True]),
            "half": np.array([0.5, -2.0], dtype=np.float16),
            "small": np.array([-3, 4], dtype=np.int8),
        }, path, metadata={"producer": "python"})
    elif command == "summarize-torch":
        import torch
        print(json.dumps(summarize_tree(torch.load(path, weights_only=True))))
    elif command in ("write-torch", "write-torch-legacy"):
        import torch
        torch.save(small_checkpoint(), path, _use_new_zipfile_serialization=command == "write-torch")
    elif command == "write-torch-deflated":
        import io
        import torch
        import zipfile
        buffer = io.BytesIO()
        torch.save(small_checkpoint(), buffer)
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
                zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                target.writestr(info.filename, source.read(info.filename))
    elif command == "torch-storages":
        import torch
        print(json.dumps(storage_numbers(torch.load(path, weights_only=True))))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
