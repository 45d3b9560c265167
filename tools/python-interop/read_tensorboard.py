"""Reads a TensorBoardLogger run folder with TensorBoard's own readers and prints JSON.

Usage: read_tensorboard.py RUN_DIR

Every event file is first read record by record with TensorBoard's TFRecord reader,
which checks both masked CRC-32C checksums of each record (a bad checksum or a cut-off
record fails the script). Then EventAccumulator loads the folder and the script prints
{"records": {file: count}, "file_version": ..., "scalars": {tag: [[step, value], ...]},
 "text": {tag: [[step, text], ...]}, "hparams": {name: value}}.
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
from tensorboard.plugins.hparams import plugin_data_pb2


def count_records(path):
    reader = pywrap_tensorflow.PyRecordReader_New(path)
    count = 0
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return count
        count += 1


def main(run_dir):
    files = sorted(name for name in os.listdir(run_dir) if name.startswith("events.out.tfevents."))
    records = {name: count_records(os.path.join(run_dir, name)) for name in files}

    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {
        tag: [[event.step, event.value] for event in accumulator.Scalars(tag)] for tag in tags["scalars"]
    }
    text = {
        tag: [[event.step, event.tensor_proto.string_val[0].decode("utf-8")] for event in accumulator.Tensors(tag)]
        for tag in tags["tensors"]
    }
    hparams = {}
    for content in accumulator.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        for name, value in data.session_start_info.hparams.items():
            hparams[name] = getattr(value, value.WhichOneof("kind"))
    json.dump({"records": records, "file_version": accumulator.file_version, "scalars": scalars,
               "text": text, "hparams": hparams}, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
