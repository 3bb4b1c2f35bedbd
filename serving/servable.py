"""One loaded version of a model, answering TF Serving's Predict, Classify and GetModelMetadata.

Requests are checked against the SignatureDefs stored in `saved_model.pb` (the contract a
TF Serving client sees through GetModelMetadata) before anything runs, so a wrong input name,
dtype or shape comes back as INVALID_ARGUMENT naming that input. Tensors cross the wire
through serving/tensors.py.

The model runs as TF Serving runs it: the MetaGraph in a Session, each request one run that
feeds and fetches the tensors the SignatureDef names. Calling the restored `tf.function`
instead costs its Python argument handling on every request (about 0.2 ms for WDBC's
serialized examples, 0.5 ms for its 30 raw inputs: bench/README.md). Unlike TF Serving, the
run's ops execute in the request's own thread (`SERVING.session_executor`) wherever the graph
allows it.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2
from tensorflow.python.framework import op_def_registry
from tensorflow.python.util import deprecation
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    input_pb2,
    predict_pb2,
)

from pipeline.config import SERVING
from serving import layout, warmup
from serving.status import ServingError, from_tf_error, invalid_argument, not_found
from serving.tensors import as_proto_field, to_array

DEFAULT_SIGNATURE = "serving_default"
CLASSIFY_METHOD = "tensorflow/serving/classify"
PREDICT_METHODS = (
    "tensorflow/serving/predict",
    CLASSIFY_METHOD,
    "tensorflow/serving/regress",
)
CLASSIFY_INPUTS = "inputs"
SIGNATURE_DEF_FIELD = "signature_def"
# What tf.saved_model.save stores the variable initialisation as; the loader runs it.
INIT_OP_SIGNATURE = "__saved_model_init_op"
# Node ops SERVING.session_executor refuses (TF1 control flow, partitions, collectives);
# TF2's functional control flow it runs as it is.
_SERIAL_REFUSES = frozenset({
    "Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
    "NextIteration", "RefNextIteration", "LoopCond", "ControlTrigger", "_Send", "_Recv",
    "_HostSend", "_HostRecv",
})
# TF Serving refuses a warmup file longer than this.
MAX_WARMUP_RECORDS = 1000
MAX_ELEMENTS = SERVING.max_message_bytes

def read_meta_graph(export_dir: str) -> meta_graph_pb2.MetaGraphDef:
    """The serving MetaGraphDef; raises ValueError when saved_model.pb does not parse."""
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(export_dir, layout.SAVED_MODEL_FILE), "rb") as handle:
        try:
            proto.ParseFromString(handle.read())
        except Exception as err:  # protobuf's DecodeError and friends share no base here
            raise ValueError(f"{export_dir}: saved_model.pb does not parse: {err}") from err
    for meta_graph in proto.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ValueError(f"{export_dir}: no MetaGraph tagged 'serve'")


def executor_type(meta_graph: meta_graph_pb2.MetaGraphDef) -> str:
    """SERVING.session_executor, or TF's default ("") for a graph that executor cannot run."""
    graph = meta_graph.graph_def
    ops = {n.op for n in graph.node}
    ops.update(n.op for function in graph.library.function for n in function.node_def)
    for op in ops:
        if op in _SERIAL_REFUSES or op.startswith("Collective"):
            return ""
        definition = op_def_registry.get(op)
        if definition is not None and any(arg.is_ref for arg in definition.output_arg):
            return ""
    return SERVING.session_executor


@dataclass(frozen=True)
class _Signature:
    """What a request is checked against, read once from the SignatureDef at load."""

    definition: meta_graph_pb2.SignatureDef
    # alias -> (DataType, dims with -1 for any size, or None for unknown rank)
    inputs: dict[str, tuple[int, tuple[int, ...] | None]]
    outputs: tuple[str, ...]

    @classmethod
    def of(cls, definition: meta_graph_pb2.SignatureDef) -> _Signature:
        inputs = {
            alias: (
                info.dtype,
                None if info.tensor_shape.unknown_rank
                else tuple(d.size for d in info.tensor_shape.dim),
            )
            for alias, info in definition.inputs.items()
        }
        return cls(definition, inputs, tuple(sorted(definition.outputs)))


def _shape_text(dims) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _check_shape(
    alias: str, signature_name: str, want: tuple[int, ...] | None, got: tuple
) -> None:
    if want is None:
        return
    if len(want) != len(got) or any(w not in (-1, g) for w, g in zip(want, got, strict=False)):
        raise invalid_argument(
            f'input "{alias}" of signature "{signature_name}" must have shape '
            f"{_shape_text(want)} (-1: any size), got {_shape_text(got)}"
        )


def _names(names) -> str:
    return "{" + ",".join(sorted(names)) + "}"


class Servable:
    """A SavedModel version held in memory, and what it answers."""

    def __init__(self, name: str, version: int, path: str, threads: int = 0):
        """`threads`: the session's inter- and intra-op pool sizes (0: TF's, one per core)."""
        self.name = name
        self.threads = threads
        self.version = version
        self.path = path
        meta_graph = read_meta_graph(path)
        self.signature_defs: Mapping[str, meta_graph_pb2.SignatureDef] = dict(
            meta_graph.signature_def
        )
        graph = tf.Graph()
        # A model trained on GPU nodes may name a device this server does not have.
        config = tf.compat.v1.ConfigProto(
            allow_soft_placement=True,
            inter_op_parallelism_threads=threads,
            intra_op_parallelism_threads=threads,
            # Pools of its own: TF's process-wide pools take the first session's sizes.
            use_per_session_threads=threads > 0,
        )
        config.experimental.executor_type = executor_type(meta_graph)
        self._session = tf.compat.v1.Session(graph=graph, config=config)
        # TF 2 calls this loader deprecated; it is the one TF Serving itself runs models by.
        with graph.as_default(), deprecation.silence():
            tf.compat.v1.saved_model.loader.load(self._session, ["serve"], path)
        self._signatures = {
            name: _Signature.of(definition)
            for name, definition in self.signature_defs.items()
            if name != INIT_OP_SIGNATURE
        }
        # (signature, fetched aliases) -> a callable of the session, inputs in sorted order
        self._runs: dict[tuple[str, tuple[str, ...]], Callable] = {}

    def _signature(self, name: str) -> _Signature:
        name = name or DEFAULT_SIGNATURE
        if name not in self._signatures:
            # TF Serving says FAILED_PRECONDITION here; bcpipe's contract says NOT_FOUND.
            raise not_found(f'Serving signature key "{name}" not found.')
        return self._signatures[name]

    def _inputs(
        self,
        signature_name: str,
        signature: _Signature,
        tensors: Mapping[str, tensor_pb2.TensorProto],
    ) -> dict[str, np.ndarray]:
        sent, expected = set(tensors), set(signature.inputs)
        if sent != expected:
            raise invalid_argument(
                f'inputs do not match signature "{signature_name}": '
                f"Sent extra: {_names(sent - expected)}. "
                f"Missing but required: {_names(expected - sent)}."
            )
        arrays = {}
        for alias in sorted(tensors):
            (dtype, want), proto = signature.inputs[alias], tensors[alias]
            if proto.dtype != dtype:
                raise invalid_argument(
                    f'input "{alias}" of signature "{signature_name}" must be '
                    f"{types_pb2.DataType.Name(dtype)}, "
                    f"got {types_pb2.DataType.Name(proto.dtype)}"
                )
            shape = [d.size for d in proto.tensor_shape.dim]
            elements = math.prod(shape)
            if elements > MAX_ELEMENTS:
                # One value may stand for a whole shape; never expand that past a message.
                raise invalid_argument(
                    f'input "{alias}" has {elements:.0f} elements, more than {MAX_ELEMENTS}'
                )
            try:
                array = to_array(proto, shape)
            except Exception as err:  # any malformed TensorProto
                raise invalid_argument(f"tensor parsing error: {alias}: {err}") from err
            _check_shape(alias, signature_name, want, array.shape)
            arrays[alias] = array
        rows = {alias: a.shape[0] for alias, a in arrays.items() if a.ndim}
        usual = Counter(rows.values()).most_common(1)[0][0] if rows else 0
        odd = {alias: n for alias, n in rows.items() if n != usual}
        if odd:
            listed = ", ".join(f"{alias} has {n}" for alias, n in sorted(odd.items()))
            raise invalid_argument(
                f'inputs of signature "{signature_name}" must have equal 0th-dimension '
                f"size: {listed}, the other inputs {usual}"
            )
        return arrays

    def _run(
        self,
        signature_name: str,
        signature: _Signature,
        inputs: Mapping[str, np.ndarray],
        aliases: tuple[str, ...],
    ) -> dict[str, np.ndarray]:
        """The outputs `aliases` of one session run; inputs are already checked."""
        key = (signature_name, aliases)
        run = self._runs.get(key)
        if run is None:
            definition = signature.definition
            options = config_pb2.CallableOptions(
                feed=[definition.inputs[alias].name for alias in sorted(signature.inputs)],
                fetch=[definition.outputs[alias].name for alias in aliases],
            )
            # Session.make_callable with feeds is Session.run again (a feed dict per call);
            # a callable made from options, as Keras' own backend makes them, is not.
            run = self._session._make_callable_from_options(options)
            self._runs[key] = run
        try:
            values = run(*(inputs[alias] for alias in sorted(signature.inputs)))
        except tf.errors.OpError as err:
            raise from_tf_error(err) from err
        except UnicodeDecodeError as err:
            # TF quotes the offending input in its message and then fails to decode it.
            raise invalid_argument(
                f'signature "{signature_name}" cannot read its input: a string is not what '
                f"it parses (e.g. bytes that are no serialized tf.Example)"
            ) from err
        except (TypeError, ValueError) as err:
            raise invalid_argument(str(err)) from err
        return dict(zip(aliases, values, strict=True))

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = self._signature(signature_name)
        method_name = signature.definition.method_name
        if method_name not in PREDICT_METHODS:
            raise ServingError(
                grpc.StatusCode.INTERNAL,
                f"Expected prediction signature method_name to be one of "
                f"{{{', '.join(PREDICT_METHODS)}}}. Was: {method_name}",
            )
        aliases = tuple(request.output_filter) or signature.outputs
        for alias in aliases:
            if alias not in signature.outputs:
                raise invalid_argument(
                    f"output tensor alias not found in signature: {alias} Outputs expected "
                    f"to be in the set {_names(signature.outputs)}."
                )
        if len(set(aliases)) != len(aliases):
            raise invalid_argument("duplicate output tensor alias in output_filter")
        outputs = self._run(
            signature_name, signature,
            self._inputs(signature_name, signature, request.inputs), aliases,
        )
        response = predict_pb2.PredictResponse()
        self._fill_model_spec(response.model_spec, signature_name)
        for alias in aliases:
            dtype = signature.definition.outputs[alias].dtype
            response.outputs[alias].CopyFrom(as_proto_field(outputs[alias], dtype))
        return response

    def classify(
        self, request: classification_pb2.ClassificationRequest
    ) -> classification_pb2.ClassificationResponse:
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = self._signature(signature_name)
        method_name = signature.definition.method_name
        if method_name != CLASSIFY_METHOD:
            raise invalid_argument(
                f"Expected classification signature method_name to be {CLASSIFY_METHOD}. "
                f"Was: {method_name}"
            )
        if set(signature.inputs) != {CLASSIFY_INPUTS}:
            raise ServingError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'No classification inputs found in SignatureDef "{signature_name}"',
            )
        examples = serialized_examples(request.input)
        if not examples:
            raise invalid_argument("Input is empty.")
        outputs = self._run(
            signature_name, signature,
            {CLASSIFY_INPUTS: np.array(examples, dtype=object)}, signature.outputs,
        )
        classes = outputs.get("classes")
        scores = outputs.get("scores")
        for tensor in (classes, scores):
            if tensor is not None and (tensor.ndim != 2 or tensor.shape[0] != len(examples)):
                raise invalid_argument(
                    f"Expected Tensor shape: [batch_size num_classes] with batch_size "
                    f"{len(examples)} but got {list(tensor.shape)}"
                )
        response = classification_pb2.ClassificationResponse()
        self._fill_model_spec(response.model_spec, signature_name)
        num_classes = (classes if classes is not None else scores).shape[1]
        for i in range(len(examples)):
            result = response.result.classifications.add()
            for c in range(num_classes):
                entry = result.classes.add()
                if classes is not None:
                    entry.label = classes[i, c].decode()
                if scores is not None:
                    entry.score = scores[i, c]
        return response

    def metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.metadata_field:
            raise invalid_argument(
                "GetModelMetadataRequest must specify at least one metadata_field"
            )
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in self.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.name
        response.model_spec.version.value = self.version
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response

    def warm_up(self, iterations: int = 1) -> int:
        """Replays `assets.extra/tf_serving_warmup_requests`; any failure fails the load."""
        records = warmup.read_warmup(self.path)
        if len(records) > MAX_WARMUP_RECORDS:
            raise ValueError(
                f"{warmup.warmup_path(self.path)}: {len(records)} warmup records, "
                f"more than the {MAX_WARMUP_RECORDS} TF Serving accepts"
            )
        for record in records:
            kind = record.WhichOneof("log_type")
            for _ in range(iterations):
                if kind == "predict_log":
                    self.predict(record.predict_log.request)
                elif kind == "classify_log":
                    self.classify(record.classify_log.request)
                else:
                    raise ValueError(f"unsupported warmup log_type {kind!r}")
        return len(records)

    def _fill_model_spec(self, spec, signature_name: str) -> None:
        spec.name = self.name
        spec.version.value = self.version
        spec.signature_name = signature_name


def serialized_examples(source: input_pb2.Input) -> list[bytes]:
    """The tf.Examples of a Classify input; a context is merged under each example, as
    concatenated serialized protos merge (the example's own features win)."""
    kind = source.WhichOneof("kind")
    if kind == "example_list":
        return [e.SerializeToString() for e in source.example_list.examples]
    if kind == "example_list_with_context":
        with_context = source.example_list_with_context
        context = with_context.context.SerializeToString()
        return [context + e.SerializeToString() for e in with_context.examples]
    return []
