"""The environment `make` builds, as every test's subprocess and Beam worker starts in it."""

from __future__ import annotations

import importlib.util
import os
import py_compile
from pathlib import Path

import pytest


def is_current_bytecode(source: str) -> bool:
    """Whether Python would load `source` from its cached bytecode instead of compiling it
    (the check importlib makes: magic number, then the source's mtime and size)."""
    cached = Path(importlib.util.cache_from_source(source))
    if not cached.exists():
        return False
    header = cached.read_bytes()[:16]
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(header[4:8], "little") & 1:  # hash-based: valid by construction here
        return True
    stat = os.stat(source)
    return (int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF)


@pytest.mark.parametrize("package", ["tensorflow", "tfx", "tensorflow_transform", "apache_beam"])
def test_large_packages_import_from_bytecode_compiled_at_install(package):
    """The Makefile sets PYTHONDONTWRITEBYTECODE, so a package left uncompiled by `uv sync`
    is compiled from source by each process that imports it (15-20 s for TF and TFX here)."""
    assert is_current_bytecode(importlib.util.find_spec(package).origin), package


def test_a_stale_or_missing_cache_is_told_apart(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    assert not is_current_bytecode(str(source))
    py_compile.compile(str(source), doraise=True)
    assert is_current_bytecode(str(source))
    source.write_text("x = 22\n")
    assert not is_current_bytecode(str(source))
