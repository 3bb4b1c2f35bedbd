"""The contract in the graph and in Python refuse the same patches for the same reasons."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from serving.input_checks import checked, patch_problem, png_problems


def _image(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def _rgb(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 90, np.uint8)


PATCHES = {
    "a full patch": (_image(_rgb(50, 50)), None),
    "an edge patch": (_image(_rgb(37, 50)), None),
    "8-bit greyscale": (_image(np.full((50, 50), 7, np.uint8)), None),
    "a JPEG": (_image(_rgb(50, 50), "JPEG"), "not a PNG"),
    "too large": (_image(_rgb(64, 64)), "64x64 pixels; patches are at most 50x50"),
    "too wide": (_image(_rgb(10, 200)), "200x10 pixels; patches are at most 50x50"),
    "16-bit": (_image(np.full((50, 50), 300, np.uint16)),
               "a 16-bit PNG; patches have 8 bits a channel"),
    "empty": (b"", "empty"),
    "a few bytes": (b"\x89PNG", "not a PNG"),
}


def test_python_and_graph_give_the_same_reasons():
    contents = [content for content, _ in PATCHES.values()]
    in_graph = [p.decode() or None for p in png_problems(tf.constant(contents)).numpy()]
    assert in_graph == [reason for _, reason in PATCHES.values()]
    assert [p and p.text for p in map(patch_problem, contents)] == in_graph


def test_python_also_refuses_a_png_that_does_not_decode():
    truncated = _image(_rgb(50, 50))[:80]
    assert patch_problem(truncated).text == "a PNG that does not decode (truncated or corrupt)"


def test_the_check_names_the_feature_and_each_refused_patch():
    check = tf.function(lambda images: checked({"image": images})["image"])
    good, large = _image(_rgb(50, 50)), _image(_rgb(64, 64))
    assert check(tf.constant([good])).numpy().tolist() == [good]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image\[1\]: 64x64 pixels"):
        check(tf.constant([good, large]))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_floats_are_refused_naming_the_feature(value):
    check = tf.function(lambda x: checked({"radius_mean": x})["radius_mean"])
    assert check(tf.constant([1.5])).numpy().tolist() == [1.5]
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature radius_mean: NaN or inf"):
        check(tf.constant([1.5, value], tf.float32))


@pytest.mark.parametrize("empty", [tf.zeros([0], tf.float32), tf.zeros([0], tf.string)])
def test_an_empty_batch_is_refused_by_name(empty):
    check = tf.function(lambda x: checked({"area_se": x})["area_se"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="an empty batch: no area_se given"):
        check(empty)
