#!/usr/bin/env bash
# Coverage-guided fuzzing of the restricted unpickler, the safetensors header parser,
# the zip central-directory reader and the sharded index parser with libFuzzer (swiftc -sanitize=fuzzer,address). Seeds come from the real
# Lightning fixtures' data.pkl and a small safetensors file.
#   tools/fuzz-interop.sh [seconds]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scratch=".build-fuzz"
swift build -c release --scratch-path "$scratch" --product InteropFuzzer \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DCAIRN_FUZZ -Xswiftc -use-ld=lld >/dev/null 2>&1
corpus="$scratch/corpus"
mkdir -p "$corpus"
for ckpt in Fixtures/lightning/*.ckpt Fixtures/lightning/*.pt; do
    python3 - "$ckpt" "$corpus" <<'PY'
import sys, zipfile, os
path, corpus = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(path) as archive:
    for name in archive.namelist():
        if name.endswith("data.pkl"):
            with open(os.path.join(corpus, os.path.basename(path) + ".pkl"), "wb") as out:
                out.write(archive.read(name))
PY
done
python3 - "$corpus" <<'PY'
import json, struct, sys, os
header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"k": "v"}}).encode()
header += b" " * (-len(header) % 8)
with open(os.path.join(sys.argv[1], "seed.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0))
PY
# Whole torch files seed the zip directory reader; an index seeds the sharded-checkpoint parser.
for ckpt in Fixtures/lightning/*.ckpt Fixtures/lightning/*.pt; do
    size=$(stat -c %s "$ckpt")
    if [ "$size" -le 65536 ]; then cp "$ckpt" "$corpus/$(basename "$ckpt").zip"; fi
done
# The same small checkpoint in the legacy format and re-zipped with deflated members.
if python=$(tools/python-interop/ensure-venv.sh 2>/dev/null); then
    for writer in write-torch-legacy write-torch-deflated; do
        "$python" tools/python-interop/roundtrip.py "$writer" "$corpus/$writer.pt" || true
    done
fi
printf '{"metadata": {"total_size": 16}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}' \
    > "$corpus/seed.index.json"
start=$(date +%s)
"$scratch/release/InteropFuzzer" "$corpus" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>&1 | tail -n 15
echo "fuzzed for $(( $(date +%s) - start )) s without a crash"
