"""decode_and_pad keeps every pixel of a full patch and pads edge patches with white."""

import io

import numpy as np
import tensorflow as tf
from PIL import Image

from components.idc.preprocessing import PAD_VALUE, PIXELS, decode_and_pad, preprocessing_fn


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_full_patch_is_kept_exactly():
    pixels = np.random.default_rng(0).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    out = decode_and_pad(tf.constant(_png(pixels))).numpy()
    assert out.dtype == np.int64 and out.shape == (7500,)
    np.testing.assert_array_equal(out.reshape(50, 50, 3), pixels)


def test_edge_patch_is_padded_white_bottom_right():
    pixels = np.full((37, 44, 3), 7, dtype=np.uint8)
    out = decode_and_pad(tf.constant(_png(pixels))).numpy().reshape(50, 50, 3)
    np.testing.assert_array_equal(out[:37, :44], pixels)
    assert (out[37:] == PAD_VALUE).all() and (out[:, 44:] == PAD_VALUE).all()


def test_preprocessing_fn_on_a_batch():
    batch = [_png(np.zeros((50, 50, 3), np.uint8)), _png(np.ones((20, 50, 3), np.uint8))]
    out = preprocessing_fn(
        {"image": tf.constant([[b] for b in batch]), "label": tf.constant([[1], [0]], tf.int64)}
    )
    assert out[PIXELS].shape == (2, 7500)
    assert out["label"].numpy().tolist() == [[1], [0]]
    assert set(out) == {PIXELS, "label"}
