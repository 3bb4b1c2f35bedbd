"""ExampleGen for the IDC archive: streams patches into tf.Examples and counts every quirk.

The walk is distributed: the driver lists only the top level (patients, the mirror,
strays); each patient folder is listed and decoded by Beam workers. Nothing quirky is
fatal; each kind is counted, and the counts are kept with the Examples artifact.

Memory stays flat with the archive's size: only the patches' file paths are ever grouped.
TFX's own split writer reshuffles the examples themselves, which a DirectRunner holds in
memory whole (about 23 KB a patch); here the paths are put in a hashed order before any
patch is read, so the examples stream to disk already mixed across patients.

Splits are whole patients in the output config's proportions, assigned from the top-level
listing before any patch is read (components/split_assignment.py): hashing each patient
into a bucket on its own left a split empty on a small cohort.
"""

import hashlib
import json
import os
from collections import Counter

import apache_beam as beam
import tensorflow as tf
from apache_beam.transforms.window import GlobalWindows
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils

from components.idc.archive import MACOS_DIR, MIRROR_DIR, is_patient_dir, parse_patch_name
from components.split_assignment import assign
from pipeline.config import IDC_LABEL, IDC_PATCH_SIZE, IDC_PATIENT
from serving import input_checks

COUNTS_FILE = "ingestion_counts.json"
STRAY_FOLDERS = "stray_folders"
COUNT_KEYS = ("patches_kept", "small_kept", "mirror_skipped", "empty_skipped",
              "undecodable_skipped", "oversized_skipped", "not_8bit_skipped",
              "unreadable_skipped", "class_mismatch_skipped", "stray_ignored")
# Where a patch the serving contract refuses is counted (serving/input_checks.py).
_SKIPPED_AS = {
    input_checks.EMPTY_FILE: "empty_skipped",
    input_checks.NOT_A_PNG: "undecodable_skipped",
    input_checks.UNDECODABLE: "undecodable_skipped",
    input_checks.OVERSIZED: "oversized_skipped",
    input_checks.BIT_DEPTH_KIND: "not_8bit_skipped",
}
# Beam writes its combined counts here (inside the artifact) before Do() folds them in.
_STAGED_COUNTS = "_counts"


class NoUsablePatchError(ValueError):
    """The input tree holds no patch that could be used."""


def _walk_files(path: str):
    """Every file below `path`. On a local disk a symlinked folder is followed once: one
    that leads back to a folder already walked (a loop) is not entered again. A link that
    leads nowhere is listed as a file, and reading it fails (counted as unreadable)."""
    if "://" in path:  # object stores have no links
        walk = tf.io.gfile.walk(path)
    else:
        walk = os.walk(path, followlinks=True)
    seen = set()
    for directory, subdirectories, files in walk:
        real = os.path.realpath(directory)
        if real in seen:
            subdirectories[:] = []
            continue
        seen.add(real)
        for name in files:
            yield os.path.join(directory, name)


def top_level(root: str) -> list[tuple[str, str]]:
    """(kind, path) for every entry below the root: patient, mirror or stray."""
    if not tf.io.gfile.isdir(root):
        raise NoUsablePatchError(f"{root}: not a directory")
    entries = []
    for name in sorted(n.rstrip("/") for n in tf.io.gfile.listdir(root)):
        path = os.path.join(root, name)
        if name == MIRROR_DIR:
            entries.append(("mirror", path))
        elif is_patient_dir(name) and tf.io.gfile.isdir(path):
            entries.append(("patient", path))
        else:
            entries.append(("stray", path))  # .DS_Store, __MACOSX/, anything else
    return entries


def stray_folders(entries: list[tuple[str, str]]) -> list[str]:
    """Top-level folders not read as patients, by name: a patient folder misnamed (a space,
    a letter) must be seen, not only counted among the strays."""
    return [os.path.basename(path) for kind, path in entries
            if kind == "stray" and tf.io.gfile.isdir(path)
            and os.path.basename(path) != MACOS_DIR and not os.path.basename(path).startswith(".")]


def patient_classes(entries: list[tuple[str, str]]) -> dict[str, bool]:
    """Patient id -> whether it has a class-1 folder, from one look into each patient."""
    return {os.path.basename(path): tf.io.gfile.isdir(os.path.join(path, "1"))
            for kind, path in entries if kind == "patient"}


def list_entry(entry: tuple[str, str]):
    """(kind, file) for every file below one top-level entry; a stray link is one stray,
    wherever it leads (to the root itself, say)."""
    kind, path = entry
    walked = tf.io.gfile.isdir(path) and not (kind == "stray" and os.path.islink(path))
    files = _walk_files(path) if walked else [path]
    for file in files:
        yield (kind, file)


def hashed_order(files: list[tuple[str, str]]):
    """The files in an order unrelated to patient or class, the same on every run."""
    yield from sorted(files, key=lambda item: hashlib.sha1(item[1].encode()).digest())


def _example(content: bytes, patient: str, x: int, y: int, label: int, size) -> tf.train.Example:
    height, width = size
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[content])),
        IDC_LABEL: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        IDC_PATIENT: tf.train.Feature(bytes_list=tf.train.BytesList(value=[patient.encode()])),
    }
    for key, value in (("x", x), ("y", y), ("height", height), ("width", width)):
        feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def read_patch(kind: str, path: str) -> tuple[list[str], tf.train.Example | None]:
    """What one file of the walk gives: the counts it adds and, if it is kept, its example."""
    if kind != "patient":
        return ["mirror_skipped" if kind == "mirror" else "stray_ignored"], None
    relative = os.path.normpath(path).split(os.sep)[-3:]
    name = parse_patch_name(relative[-1])
    if len(relative) != 3 or name is None or relative[1] not in ("0", "1"):
        return ["stray_ignored"], None
    if int(relative[1]) != name.label or relative[0] != name.patient:
        return ["class_mismatch_skipped"], None
    try:
        with tf.io.gfile.GFile(path, "rb") as handle:
            content = handle.read()
    except (OSError, tf.errors.OpError):  # a dangling or looping link, no permission
        return ["unreadable_skipped"], None
    problem = input_checks.patch_problem(content)
    if problem is not None:
        return [_SKIPPED_AS[problem.kind]], None
    # Kept patches are at most 50x50 (the serving contract); an edge one is smaller.
    size = input_checks.png_size(content)
    counts = ["patches_kept", f"patient:{name.patient}"]
    if size != (IDC_PATCH_SIZE, IDC_PATCH_SIZE):
        counts.append("small_kept")
    return counts, _example(content, name.patient, name.x, name.y, name.label, size)


class _ReadPatch(beam.DoFn):
    """Emits examples on the main output (as protos: ExampleGen partitions on a feature)
    and, on `counts`, (count key, occurrences) once per key and bundle: one count element
    per file would cost the runner more than reading the file."""

    COUNTS = "counts"

    def start_bundle(self):
        self._counts = Counter()

    def process(self, item):
        counts, example = read_patch(*item)
        self._counts.update(counts)
        if example is not None:
            yield example

    def finish_bundle(self):
        for counted in self._counts.items():
            yield beam.pvalue.TaggedOutput(self.COUNTS, GlobalWindows.windowed_value(counted))


def _split_index(example: tf.train.Example, _: int, index: dict[str, int]) -> int:
    return index[example.features.feature[IDC_PATIENT].bytes_list.value[0].decode()]


def summarise(counts: dict[str, int]) -> dict:
    """The ingestion counts as recorded, from how often each count key was emitted."""
    patients = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("patient:")}
    summary = {key: counts.get(key, 0) for key in COUNT_KEYS}
    summary["patients"] = len(patients)
    summary["patches_per_patient"] = dict(sorted(patients.items()))
    return summary


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ArchiveToExample(pipeline, entries, counts_dir):  # noqa: N802
    patients, others = (
        pipeline
        | "TopLevel" >> beam.Create(entries)
        | "ListFiles" >> beam.FlatMap(list_entry)
        | "ByKind" >> beam.Partition(lambda item, _: int(item[0] != "patient"), 2)
    )
    # Only patch paths are grouped: the mirror holds as many files again, and strays are
    # only counted, so they go around the grouping rather than double what it holds.
    mixed = (
        patients
        | "AllFiles" >> beam.combiners.ToList()
        | "Mix" >> beam.FlatMap(hashed_order)
        | "Spread" >> beam.Reshuffle()
    )
    read = (
        (mixed, others)
        | "Rejoin" >> beam.Flatten()
        | "Read" >> beam.ParDo(_ReadPatch()).with_outputs(_ReadPatch.COUNTS, main="examples")
    )
    _ = (
        read[_ReadPatch.COUNTS]
        | "CountPerKind" >> beam.CombinePerKey(sum)
        | "AllCounts" >> beam.combiners.ToDict()
        | "Json" >> beam.Map(lambda counts: json.dumps(summarise(counts), sort_keys=True))
        | "WriteCounts" >> beam.io.WriteToText(
            os.path.join(counts_dir, "counts"), shard_name_template="", num_shards=1
        )
    )
    return read["examples"]


class Executor(BaseExampleGenExecutor):
    """Reads `input_base` as an IDC archive root (a local path or any TF file system)."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        examples = artifact_utils.get_single_instance(output_dict["examples"])
        self._counts_dir = os.path.join(examples.uri, _STAGED_COUNTS)
        self._write_splits(output_dict, exec_properties)
        staged = os.path.join(self._counts_dir, "counts")
        with tf.io.gfile.GFile(staged) as handle:
            counts = json.loads(handle.read())
        tf.io.gfile.rmtree(self._counts_dir)
        counts[STRAY_FOLDERS] = stray_folders(self._entries)
        examples.set_string_custom_property(STRAY_FOLDERS, json.dumps(counts[STRAY_FOLDERS]))
        with tf.io.gfile.GFile(os.path.join(examples.uri, COUNTS_FILE), "w") as handle:
            json.dump(counts, handle, indent=2, sort_keys=True)
        for key in (*COUNT_KEYS, "patients"):
            examples.set_int_custom_property(key, counts[key])
        if counts["patches_kept"] == 0:
            raise NoUsablePatchError(
                f"no usable patch under {exec_properties[specs.INPUT_BASE_KEY]}: "
                f"{json.dumps({k: counts[k] for k in COUNT_KEYS})}"
            )

    def _write_splits(self, output_dict, exec_properties):
        """BaseExampleGenExecutor.Do without its reshuffle of whole examples (see top)."""
        examples = artifact_utils.get_single_instance(output_dict["examples"])
        input_config = proto_utils.json_to_proto(
            exec_properties[specs.INPUT_CONFIG_KEY], example_gen_pb2.Input())
        output_config = proto_utils.json_to_proto(
            exec_properties[specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output())
        examples.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config))
        with self._make_beam_pipeline() as pipeline:
            for split, split_examples in self.GenerateExamplesByBeam(
                    pipeline, exec_properties).items():
                _ = (
                    split_examples
                    | f"Serialize[{split}]" >> beam.Map(lambda e: e.SerializeToString())
                    | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                        os.path.join(artifact_utils.get_split_uri([examples], split),
                                     write_split.DEFAULT_FILE_NAME),
                        file_name_suffix=".gz")
                )
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")

    def GenerateExamplesByBeam(self, pipeline, exec_properties):  # noqa: N802
        """Split name -> its examples; whole patients per split, not hashed (see top)."""
        output_config = proto_utils.json_to_proto(
            exec_properties[specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output())
        weights = [(s.name, s.hash_buckets) for s in output_config.split_config.splits]
        self._entries = top_level(exec_properties[specs.INPUT_BASE_KEY])
        names = [name for name, _ in weights]
        index = {patient: names.index(split)
                 for patient, split in assign(patient_classes(self._entries), weights).items()}
        parts = (
            pipeline
            | "InputToRecord" >> self.GetInputSourceToExamplePTransform()
            | "SplitByPatient" >> beam.Partition(_split_index, len(names), index)
        )
        return {name: parts[i] for i, name in enumerate(names)}

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802
        return _ArchiveToExample(self._entries, self._counts_dir)


class IdcExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen over an IDC archive root; the split comes from output_config."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)


def read_counts(examples_uri: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(examples_uri, COUNTS_FILE)) as handle:
        return json.load(handle)
