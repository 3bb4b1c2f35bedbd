"""Copying and fingerprinting SavedModel directories on any file system TF can reach."""

from __future__ import annotations

import hashlib
import os

import tensorflow as tf

from serving import layout


def copy_tree(src: str, dst: str) -> None:
    for directory, _, files in tf.io.gfile.walk(src):
        relative = os.path.relpath(directory, src)
        # Not join(dst, "."): an object store keeps "./" in the name (gs://.../1/./saved_model.pb),
        # where TF Serving and every reader look for gs://.../1/saved_model.pb.
        target = dst if relative == os.curdir else os.path.join(dst, relative)
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name), True)


def content_hash(root: str, *, exclude: tuple[str, ...] = ()) -> str:
    """sha256 over every file's relative path and bytes, in a stable order."""
    digest = hashlib.sha256()
    entries = []
    for directory, _, files in tf.io.gfile.walk(root):
        for name in files:
            relative = os.path.relpath(os.path.join(directory, name), root)
            if not relative.startswith(exclude):
                entries.append(relative)
    for relative in sorted(entries):
        digest.update(relative.encode() + b"\0")
        with tf.io.gfile.GFile(os.path.join(root, relative), "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def pushed_content_hash(version_dir: str) -> str:
    """A served version's content hash as the Pusher records it: of the model it copied,
    without the push record it wrote beside it afterwards."""
    return content_hash(version_dir, exclude=(layout.PUSH_RECORD,))
