"""Push, serve, query: over TF Serving's gRPC API the server answers what the SavedModel
answers in process, for both models and both signatures, and a wrong request gets TF
Serving's status code and a message naming what was wrong, without hurting the next one."""

import io

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import classification_pb2, get_model_status_pb2, predict_pb2

from pipeline.config import WDBC_FEATURES
from serving import warmup
from serving.inputs import EXAMPLES, RAW, SIGNATURES, png_files
from serving.servable import read_meta_graph
from serving.signatures import to_example
from tests.serving_models import MODELS, in_process, png_patches, start_endpoint, wdbc_rows

StatusCode = grpc.StatusCode


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    served = start_endpoint(tmp_path_factory.mktemp("model-base"))
    for model in MODELS:
        served.push(model, 1)
    yield served
    served.close()


@pytest.fixture(scope="module")
def client(endpoint):
    with endpoint.client() as opened:
        yield opened


def _batch(model: str, tmp_path, count: int = 12):
    if model == "wdbc":
        return wdbc_rows(count)
    paths = []
    for i, png in enumerate(png_patches(count, seed=7)):
        path = tmp_path / f"patch{i}.png"
        path.write_bytes(png)
        paths.append(path)
    return png_files(paths)


@pytest.mark.parametrize("signature", [RAW, EXAMPLES])
@pytest.mark.parametrize("model", MODELS)
def test_answers_equal_the_saved_models(endpoint, client, model, signature, tmp_path):
    request_inputs = _batch(model, tmp_path).request_inputs(signature)
    served = client.predict(model, request_inputs, signature=SIGNATURES[signature])
    expected = in_process(endpoint.model_base / model / "1", SIGNATURES[signature], request_inputs)
    assert served.outputs["probability"].dtype == np.float32
    assert served.outputs["label"].dtype == np.int64
    np.testing.assert_allclose(
        served.outputs["probability"], expected["probability"], rtol=0, atol=1e-6
    )
    np.testing.assert_array_equal(served.outputs["label"], expected["label"])
    assert served.versions.tolist() == [1] * len(expected["label"])


def test_classify_scores_are_the_predicted_probability(client):
    rows = wdbc_rows(8)
    examples = [tf.train.Example.FromString(e) for e in rows.examples()]
    classified = client.classify("wdbc", examples)
    predicted = client.predict("wdbc", rows.request_inputs(RAW), signature=SIGNATURES[RAW])
    assert classified.version == 1
    for classes, probability in zip(
        classified.classes, predicted.outputs["probability"], strict=True
    ):
        assert [label for label, _ in classes] == ["0", "1"]
        assert classes[1][1] == pytest.approx(probability, abs=1e-6)
        assert classes[0][1] == pytest.approx(1 - probability, abs=1e-6)


def test_classify_merges_a_context_under_each_example(client):
    rows = wdbc_rows(4)
    examples = [tf.train.Example.FromString(e) for e in rows.examples()]
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "wdbc"
    request.model_spec.signature_name = "classify"
    with_context = request.input.example_list_with_context
    # The context carries the first row's "mean" features; each example the rest of its own.
    shared = [name for name in WDBC_FEATURES if name.endswith("_mean")]
    for name in shared:
        with_context.context.features.feature[name].CopyFrom(examples[0].features.feature[name])
    expected_rows = {k: v.copy() for k, v in rows.raw.items()}
    for example_index, example in enumerate(examples):
        for name in shared:
            del example.features.feature[name]
            expected_rows[name][example_index] = rows.raw[name][0]
        with_context.examples.add().CopyFrom(example)
    response = client.call("Classify", request)
    expected = client.predict("wdbc", expected_rows, signature=SIGNATURES[RAW])
    scores = [c.classes[1].score for c in response.result.classifications]
    np.testing.assert_allclose(scores, expected.outputs["probability"], rtol=0, atol=1e-6)


def test_metadata_is_the_pushed_signature_defs(endpoint, client):
    version, signature_defs = client.metadata("wdbc")
    on_disk = read_meta_graph(str(endpoint.model_base / "wdbc" / "1")).signature_def
    assert version == 1
    assert signature_defs == dict(on_disk)
    raw = signature_defs["serving_raw"]
    assert set(raw.inputs) == set(WDBC_FEATURES)
    assert {i.dtype for i in raw.inputs.values()} == {types_pb2.DT_FLOAT}
    assert signature_defs["serving_default"].inputs["examples"].dtype == types_pb2.DT_STRING
    assert signature_defs["classify"].method_name == "tensorflow/serving/classify"


def test_status_reports_the_served_versions(client):
    for model in MODELS:
        status = client.status(model)
        assert status[1].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
        assert status[1].status.error_code == 0


def _wdbc_request(signature="serving_default", **tensors) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "wdbc"
    request.model_spec.signature_name = signature
    for name, proto in tensors.items():
        request.inputs[name].CopyFrom(proto)
    return request


def _examples(count=2):
    return tf.make_tensor_proto(np.array(wdbc_rows(count).examples(), dtype=object))


def _raw_tensors(lengths: dict[str, int] | None = None):
    rows = wdbc_rows(3)
    return {
        name: tf.make_tensor_proto(column[: (lengths or {}).get(name, 3)])
        for name, column in rows.raw.items()
    }


def _unknown_model():
    request = _wdbc_request(examples=_examples())
    request.model_spec.name = "no_such_model"
    return request


def _unknown_version():
    request = _wdbc_request(examples=_examples())
    request.model_spec.version.value = 99
    return request


def _unknown_label():
    request = _wdbc_request(examples=_examples())
    request.model_spec.version_label = "no_such_label"
    return request


def _huge_shape():
    # One value standing for 10^12 rows: a few bytes on the wire, terabytes if expanded.
    examples = tf.make_tensor_proto([b"x"])
    examples.tensor_shape.dim[0].size = 10**12
    return _wdbc_request(examples=examples)


def _patch_request(*pngs: bytes, signature="serving_raw"):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "idc_patch"
    request.model_spec.signature_name = signature
    if signature == "serving_default":
        examples = [to_example({"image": png}).SerializeToString() for png in pngs]
        request.inputs["examples"].CopyFrom(tf.make_tensor_proto(examples))
    else:
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(list(pngs), tf.string))
    return request


def _image(pixels: np.ndarray, fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def _rgb(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 120, np.uint8)


def _non_finite(value: float, signature: str):
    if signature == "serving_raw":
        tensors = _raw_tensors()
        column = tf.make_ndarray(tensors["concavity_se"]).copy()
        column[1] = value
        return _wdbc_request(signature, **{**tensors, "concavity_se": tf.make_tensor_proto(column)})
    rows = wdbc_rows(2)
    rows.raw["concavity_se"][1] = value
    return _wdbc_request(examples=tf.make_tensor_proto(np.array(rows.examples(), dtype=object)))


BAD_REQUESTS = {
    "unknown model": (_unknown_model, StatusCode.NOT_FOUND, "no_such_model"),
    "unknown version": (_unknown_version, StatusCode.NOT_FOUND, "Specific(wdbc, 99)"),
    "unknown version label": (_unknown_label, StatusCode.INVALID_ARGUMENT, "no_such_label"),
    "unknown signature": (
        lambda: _wdbc_request("no_such_signature", examples=_examples()),
        StatusCode.NOT_FOUND,
        "no_such_signature",
    ),
    "wrong input name": (
        lambda: _wdbc_request(example=_examples()),
        StatusCode.INVALID_ARGUMENT,
        "Sent extra: {example}. Missing but required: {examples}",
    ),
    "missing raw input": (
        lambda: _wdbc_request(
            "serving_raw", **{k: v for k, v in _raw_tensors().items() if k != "area_worst"}
        ),
        StatusCode.INVALID_ARGUMENT,
        "Missing but required: {area_worst}",
    ),
    "wrong dtype": (
        lambda: _wdbc_request(examples=tf.make_tensor_proto([1.0, 2.0], dtype=tf.float32)),
        StatusCode.INVALID_ARGUMENT,
        'input "examples" of signature "serving_default" must be DT_STRING, got DT_FLOAT',
    ),
    "wrong raw dtype": (
        lambda: _wdbc_request(
            "serving_raw",
            **{**_raw_tensors(), "radius_mean": tf.make_tensor_proto([1.0] * 3, tf.float64)},
        ),
        StatusCode.INVALID_ARGUMENT,
        'input "radius_mean" of signature "serving_raw" must be DT_FLOAT, got DT_DOUBLE',
    ),
    "wrong shape": (
        lambda: _wdbc_request(
            examples=tf.make_tensor_proto(
                np.array(wdbc_rows(2).examples(), dtype=object).reshape(2, 1)
            )
        ),
        StatusCode.INVALID_ARGUMENT,
        'input "examples" of signature "serving_default" must have shape [-1]',
    ),
    "unequal batch sizes": (
        lambda: _wdbc_request("serving_raw", **_raw_tensors({"texture_se": 2})),
        StatusCode.INVALID_ARGUMENT,
        "texture_se has 2",
    ),
    "bytes that are no tf.Example": (
        lambda: _wdbc_request(examples=tf.make_tensor_proto([b"\xff\x00 not a proto"])),
        StatusCode.INVALID_ARGUMENT,
        'signature "serving_default" cannot read its input',
    ),
    "a shape far beyond its values": (_huge_shape, StatusCode.INVALID_ARGUMENT, "elements"),
    "bytes that are no PNG": (
        lambda: _patch_request(b"these bytes are not a PNG"),
        StatusCode.INVALID_ARGUMENT,
        "image[0]: not a PNG",
    ),
    "a JPEG named .png": (
        lambda: _patch_request(png_patches(1)[0], _image(_rgb(50, 50), "JPEG")),
        StatusCode.INVALID_ARGUMENT,
        "image[1]: not a PNG",
    ),
    "a PNG larger than a patch": (
        lambda: _patch_request(_image(_rgb(4200, 4200)), signature="serving_default"),
        StatusCode.INVALID_ARGUMENT,
        "4200x4200 pixels; patches are at most 50x50",
    ),
    "a PNG wider than a patch": (
        lambda: _patch_request(_image(_rgb(10, 200))),
        StatusCode.INVALID_ARGUMENT,
        "image[0]: 200x10 pixels",
    ),
    "a 16-bit greyscale PNG": (
        lambda: _patch_request(_image(np.full((50, 50), 40000, np.uint16))),
        StatusCode.INVALID_ARGUMENT,
        "image[0]: a 16-bit PNG",
    ),
    "an empty batch of examples": (
        lambda: _wdbc_request(examples=tf.make_tensor_proto(np.array([], dtype=object))),
        StatusCode.INVALID_ARGUMENT,
        "an empty batch: no",
    ),
    "an empty batch of patches": (
        lambda: _patch_request(),
        StatusCode.INVALID_ARGUMENT,
        "an empty batch: no image given",
    ),
    "NaN through serving_raw": (
        lambda: _non_finite(float("nan"), "serving_raw"),
        StatusCode.INVALID_ARGUMENT,
        "feature concavity_se: NaN or infinity",
    ),
    "inf in a tf.Example": (
        lambda: _non_finite(float("inf"), "serving_default"),
        StatusCode.INVALID_ARGUMENT,
        "feature concavity_se: NaN or infinity",
    ),
    "-inf through serving_raw": (
        lambda: _non_finite(float("-inf"), "serving_raw"),
        StatusCode.INVALID_ARGUMENT,
        "feature concavity_se: NaN or infinity",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_a_bad_request_gets_its_status_and_the_next_good_one_an_answer(client, case):
    make_request, code, message = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as raised:
        client.call("Predict", make_request())
    assert raised.value.code() == code, raised.value.details()
    assert message in raised.value.details()
    answered = client.predict("wdbc", {"examples": wdbc_rows(2).examples()})
    assert answered.outputs["probability"].shape == (2,)


def test_a_request_without_model_spec_is_invalid(client):
    with pytest.raises(grpc.RpcError) as raised:
        client.call("Predict", predict_pb2.PredictRequest())
    assert raised.value.code() == StatusCode.INVALID_ARGUMENT
    assert "Missing ModelSpec" in raised.value.details()


@pytest.mark.parametrize("model", MODELS)
def test_every_warmup_record_gets_the_saved_models_answer(endpoint, client, model):
    version_dir = endpoint.model_base / model / "1"
    records = warmup.read_warmup(str(version_dir))
    assert records
    signatures = set()
    for record in records:
        assert record.WhichOneof("log_type") == "predict_log"
        request = record.predict_log.request
        response = client.call("Predict", request)
        assert (response.model_spec.name, response.model_spec.version.value) == (model, 1)
        sent = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        expected = in_process(version_dir, request.model_spec.signature_name, sent)
        np.testing.assert_allclose(
            tf.make_ndarray(response.outputs["probability"]),
            expected["probability"],
            rtol=0,
            atol=1e-6,
        )
        signatures.add(request.model_spec.signature_name)
    assert signatures == {"serving_default", "serving_raw"}


def test_large_inputs_go_in_batches_with_the_same_answers(endpoint, client):
    rows = wdbc_rows(30).request_inputs(RAW)
    whole = client.predict("wdbc", rows, signature=SIGNATURES[RAW])
    with endpoint.client(batch_size=7) as batching:
        sizes = []
        send = batching.call

        def counting(method, request):
            sizes.append(request.inputs["radius_mean"].tensor_shape.dim[0].size)
            return send(method, request)

        batching.call = counting
        batched = batching.predict("wdbc", rows, signature=SIGNATURES[RAW])
    # The batch's size may change the kernels TF picks, and with them the last bit.
    np.testing.assert_allclose(batched.outputs["probability"], whole.outputs["probability"],
                               rtol=1e-6, atol=0)
    np.testing.assert_array_equal(batched.outputs["label"], whole.outputs["label"])
    assert sizes == [7, 7, 7, 7, 2]


def test_an_image_batch_above_grpcs_default_4mb_limit_goes_through(endpoint):
    patches = png_patches(700, seed=3)
    assert sum(map(len, patches)) > 4 * 1024 * 1024
    with endpoint.client(batch_size=len(patches)) as one_request:
        answered = one_request.predict("idc_patch", {"image": patches}, signature="serving_raw")
    assert answered.outputs["probability"].shape == (700,)
