"""The client's retries, and what it puts on the wire."""

import dataclasses
import socket

import pytest
import tensorflow as tf

from pipeline.config import SERVING
from serving import client as client_module
from serving.client import ServingClient, ServingUnavailable
from serving.tensors import from_array


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_closed_port_fails_clearly_after_backing_off(monkeypatch):
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    settings = dataclasses.replace(
        SERVING, client_attempts=4, client_backoff_seconds=0.5, client_backoff_max_seconds=1.5
    )
    address = f"127.0.0.1:{_closed_port()}"
    with ServingClient(address, settings=settings, timeout=5) as client:
        with pytest.raises(ServingUnavailable) as raised:
            client.status("wdbc")
    assert f"no TF Serving answer at {address} after 4 attempts" in str(raised.value)
    assert slept == [0.5, 1.0, 1.5]


def test_bytes_go_as_strings_with_trailing_nuls_kept():
    # A serialized tf.Example whose last float is 0.0 ends in NUL bytes.
    values = [b"ends in nul\x00\x00", b"x"]
    column = client_module._column(values)
    proto = from_array(column)
    assert proto.dtype == tf.string.as_datatype_enum
    assert list(proto.string_val) == values


def test_a_version_and_a_label_together_are_refused():
    with ServingClient("127.0.0.1:1") as client:
        with pytest.raises(ValueError, match="not both"):
            client.predict("wdbc", {"examples": [b""]}, version=1, version_label="stable")
