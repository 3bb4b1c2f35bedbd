"""What a served model accepts, checked inside the SavedModel so TF Serving refuses the same
inputs `bcpipe serve` does: at least one row, every float feature finite, every patch a PNG
as ingestion keeps them (8 bits a channel, at most 50x50). A refused input is INVALID_ARGUMENT naming the
feature (and, for patches, which one and why); nothing is cropped or guessed.

`patch_problem` is the same rule in Python, for ingestion and `bcpipe predict`, which
check before anything is sent or kept (input_checks_test holds the two together).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf
from PIL import Image

from pipeline.config import IDC_PATCH_SIZE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR = b"IHDR"
# Signature, IHDR length and type, width, height, bit depth: where the header ends.
_HEADER_BYTES = 25
BIT_DEPTH = 8
NOT_PNG = "not a PNG"
EMPTY = "empty"


# A problem's words around its numbers, said alike in Python and in the graph.
def _bit_depth_problem(depth) -> list:
    return ["a ", depth, f"-bit PNG; patches have {BIT_DEPTH} bits a channel"]


def _size_problem(width, height) -> list:
    return [width, "x", height, f" pixels; patches are at most {IDC_PATCH_SIZE}x{IDC_PATCH_SIZE}"]


@dataclass(frozen=True)
class Problem:
    """Why a patch is refused: `kind` for counting (ingestion), `text` for people."""

    kind: str
    text: str


# Problem kinds, most basic first.
EMPTY_FILE, NOT_A_PNG, BIT_DEPTH_KIND, OVERSIZED, UNDECODABLE = (
    "empty", "not_png", "bit_depth", "oversized", "undecodable"
)


def png_size(content: bytes) -> tuple[int, int]:
    """(height, width) from a PNG's header."""
    width, height = struct.unpack(">II", content[16:24])
    return height, width


def patch_problem(content: bytes) -> Problem | None:
    """Why a patch is refused, or None when ingestion keeps it and a model accepts it."""
    if not content:
        return Problem(EMPTY_FILE, EMPTY)
    if not content.startswith(PNG_SIGNATURE) or content[12:16] != _IHDR:
        return Problem(NOT_A_PNG, NOT_PNG)
    height, width = png_size(content)
    depth = content[24]
    if depth != BIT_DEPTH:
        return Problem(BIT_DEPTH_KIND, "".join(map(str, _bit_depth_problem(depth))))
    if not (0 < width <= IDC_PATCH_SIZE and 0 < height <= IDC_PATCH_SIZE):
        return Problem(OVERSIZED, "".join(map(str, _size_problem(width, height))))
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except Exception:  # noqa: BLE001 - PIL raises many kinds for a broken file
        return Problem(UNDECODABLE, "a PNG that does not decode (truncated or corrupt)")
    return None


def _big_endian(octets: tf.Tensor) -> tf.Tensor:
    shifts = tf.constant([24, 16, 8, 0], tf.int64)
    return tf.reduce_sum(tf.bitwise.left_shift(tf.cast(octets, tf.int64), shifts), axis=1)


def png_problems(pngs: tf.Tensor) -> tf.Tensor:
    """patch_problem in the graph, for a batch of PNG bytes: "" where a patch is accepted.
    Whether the pixels decode is left to the decoder, which refuses with INVALID_ARGUMENT."""
    padded = tf.strings.join([pngs, tf.constant(b"\0" * _HEADER_BYTES)])
    header = tf.io.decode_raw(tf.strings.substr(padded, 0, _HEADER_BYTES), tf.uint8)
    expected = tf.constant(list(PNG_SIGNATURE), tf.uint8)
    is_png = tf.reduce_all(tf.equal(header[:, :8], expected), axis=1) & tf.reduce_all(
        tf.equal(header[:, 12:16], tf.constant(list(_IHDR), tf.uint8)), axis=1
    )
    width, height = _big_endian(header[:, 16:20]), _big_endian(header[:, 20:24])
    depth = tf.cast(header[:, 24], tf.int64)

    def words(pieces: list) -> tf.Tensor:
        return tf.strings.join(
            [p if isinstance(p, str) else tf.strings.as_string(p) for p in pieces]
        )

    oversized = (width < 1) | (width > IDC_PATCH_SIZE) | (height < 1) | (height > IDC_PATCH_SIZE)
    # First match wins, as in patch_problem.
    rules = [
        (tf.strings.length(pngs) == 0, EMPTY),
        (~is_png, NOT_PNG),
        (depth != BIT_DEPTH, words(_bit_depth_problem(depth))),
        (oversized, words(_size_problem(width, height))),
    ]
    problems = tf.fill(tf.shape(pngs), "")
    for refused, problem in reversed(rules):
        problems = tf.where(refused, problem, problems)
    return problems


def _checked_pngs(name: str, pngs: tf.Tensor) -> tf.Tensor:
    problems = png_problems(tf.reshape(pngs, [-1]))
    bad = tf.where(problems != "")[:, 0]
    described = tf.strings.join(
        [f"{name}[", tf.strings.as_string(bad), "]: ", tf.gather(problems, bad)]
    )
    check = tf.debugging.Assert(
        tf.size(bad) == 0, [tf.strings.reduce_join(described, separator="; ")]
    )
    with tf.control_dependencies([check]):
        return tf.identity(pngs)


def checked(features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The features, each passed only once it meets the contract. The only bytes a bcpipe
    model takes are patch PNGs (DESIGN.md, "Serving contract")."""
    result = {}
    for name, value in features.items():
        # The model's layers would fail on no rows with a message about shapes.
        not_empty = tf.debugging.Assert(
            tf.size(value) > 0, [f"an empty batch: no {name} given; send at least one"]
        )
        with tf.control_dependencies([not_empty]):
            value = tf.identity(value)
        if value.dtype.is_floating:
            value = tf.debugging.check_numerics(
                value, f"feature {name}: NaN or infinity; a finite number is required"
            )
        elif value.dtype == tf.string:
            value = _checked_pngs(name, value)
        result[name] = value
    return result
