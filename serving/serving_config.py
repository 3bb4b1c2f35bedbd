"""The files TF Serving starts from: `models.config`, a monitoring config, batching parameters.

`models.config` lists both models. Where the pushed versions can be read, each model pins
two of them with TF Serving's `specific` policy and labels them: `canary` is the newest
push that loads, `stable` the one before it (both the same when there is one). A rollout is then a
config change: rerun `bcpipe serving-config` after a push and TF Serving, polling the file
(`--model_config_file_poll_wait_seconds`), loads the new canary. Where no versions can be
read, each model keeps its latest versions loaded and has no labels, since TF Serving
refuses a label on a version that is not loaded.

The monitoring and batching protos are not in the tensorflow-serving-api wheel; their
messages are declared here from TF Serving's .proto files (same package, names and numbers)
so that the files are written by protobuf's own text format, not by string templates.
"""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from pipeline.config import SERVING, Serving
from serving.loadable import servable_versions

MODELS_CONFIG = "models.config"
MONITORING_CONFIG = "monitoring.config"
BATCHING_PARAMETERS = "batching_parameters.txt"
STABLE, CANARY = "stable", "canary"

_FIELD = descriptor_pb2.FieldDescriptorProto


def _declare_serving_protos() -> dict[str, type]:
    """tensorflow.serving.{MonitoringConfig, PrometheusConfig, BatchingParameters}."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="bcpipe/tensorflow_serving_configs.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )

    def message(name: str, fields: list[tuple[str, int, int, str | None, bool]]):
        declared = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            field = declared.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=_FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = type_name

    int64, string = ".google.protobuf.Int64Value", ".google.protobuf.StringValue"
    wrapper = _FIELD.TYPE_MESSAGE
    message(
        "PrometheusConfig",
        [
            ("enable", 1, _FIELD.TYPE_BOOL, None, False),
            ("path", 2, _FIELD.TYPE_STRING, None, False),
        ],
    )
    message(
        "MonitoringConfig",
        [
            ("prometheus_config", 1, wrapper, ".tensorflow.serving.PrometheusConfig", False),
        ],
    )
    message(
        "BatchingParameters",
        [
            ("max_batch_size", 1, wrapper, int64, False),
            ("batch_timeout_micros", 2, wrapper, int64, False),
            ("max_enqueued_batches", 3, wrapper, int64, False),
            ("num_batch_threads", 4, wrapper, int64, False),
            ("thread_pool_name", 5, wrapper, string, False),
            ("allowed_batch_sizes", 6, _FIELD.TYPE_INT64, None, True),
            ("pad_variable_length_inputs", 7, _FIELD.TYPE_BOOL, None, False),
        ],
    )
    # A private pool: nothing else in the process can have declared these names.
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    pool.Add(proto)
    factory = message_factory.MessageFactory(pool)
    return {
        name: factory.GetPrototype(pool.FindMessageTypeByName(f"tensorflow.serving.{name}"))
        for name in ("MonitoringConfig", "BatchingParameters")
    }


SERVING_PROTOS = _declare_serving_protos()


def parse_models_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def models_config(
    model_base: str, pushed: dict[str, list[int]], settings: Serving = SERVING
) -> model_server_config_pb2.ModelServerConfig:
    """`pushed`: the versions on disk per model, oldest first (empty when unknown)."""
    config = model_server_config_pb2.ModelServerConfig()
    for name in settings.models:
        entry = config.model_config_list.config.add(
            name=name, base_path=f"{model_base.rstrip('/')}/{name}", model_platform="tensorflow"
        )
        versions = pushed.get(name, [])
        if versions:
            canary, stable = versions[-1], versions[-2] if len(versions) > 1 else versions[-1]
            entry.model_version_policy.specific.versions.extend(sorted({stable, canary}))
            entry.version_labels[STABLE] = stable
            entry.version_labels[CANARY] = canary
        else:
            entry.model_version_policy.latest.num_versions = settings.versions_loaded
    return config


def monitoring_config(settings: Serving = SERVING):
    config = SERVING_PROTOS["MonitoringConfig"]()
    config.prometheus_config.enable = True
    config.prometheus_config.path = settings.prometheus_path
    return config


def batching_parameters(settings: Serving = SERVING):
    params = SERVING_PROTOS["BatchingParameters"]()
    params.max_batch_size.value = settings.max_batch_size
    params.batch_timeout_micros.value = settings.batch_timeout_micros
    params.max_enqueued_batches.value = settings.max_enqueued_batches
    params.num_batch_threads.value = settings.num_batch_threads
    return params


def write_serving_config(
    out_dir: Path, model_base: str, local_base: str | None = None, settings: Serving = SERVING
) -> dict[str, Path]:
    """Writes the three files; versions are read from `local_base` (default: model_base).
    Only versions that load are labelled: a label on one the server refuses answers
    NOT_FOUND to every client that asks for it."""
    look_in = local_base or model_base
    pushed = {
        name: servable_versions(os.path.join(look_in, name), most=2) for name in settings.models
    }
    files = {
        MODELS_CONFIG: models_config(model_base, pushed, settings),
        MONITORING_CONFIG: monitoring_config(settings),
        BATCHING_PARAMETERS: batching_parameters(settings),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for file_name, proto in files.items():
        path = out_dir / file_name
        path.write_text(text_format.MessageToString(proto))
        written[file_name] = path
    return written
