"""A version pushed while 8 clients send requests in a loop: not one request fails, and every
client's answers move from the old version to the new one and never back."""

import threading
import time

import numpy as np
import pytest
from tensorflow_serving.apis import get_model_status_pb2

from serving.inputs import RAW, SIGNATURES
from tests.serving_models import LOAD_TIMEOUT_SECONDS, in_process, start_endpoint, wdbc_rows

CLIENTS = 8
State = get_model_status_pb2.ModelVersionStatus.State


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_a_push_under_load_drops_no_request_and_switches_every_client(tmp_path):
    endpoint = start_endpoint(tmp_path)
    rows = wdbc_rows(5).request_inputs(RAW)
    answers: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def send_in_a_loop(index: int) -> None:
        with endpoint.client() as client:
            while not stop.is_set():
                try:
                    answer = client.predict("wdbc", rows, signature=SIGNATURES[RAW])
                except Exception as err:  # every kind of failure counts
                    failures.append(f"client {index}: {err!r}")
                    continue
                answers[index].append((int(answer.versions[0]), answer.outputs["probability"]))

    def every_client_has(version: int, count: int = 1) -> bool:
        return all(sum(v == version for v, _ in mine) >= count for mine in answers)

    try:
        endpoint.push("wdbc", 1, seed=1)
        with endpoint.client() as client:
            old = max(v for v, s in client.status("wdbc").items() if s.state == State.AVAILABLE)
        new = old + 1
        threads += [threading.Thread(target=send_in_a_loop, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: every_client_has(old), f"every client to be answered by {old}")
        endpoint.push("wdbc", new, seed=2)
        with endpoint.client() as client:
            _wait_for(
                lambda: client.status("wdbc")[old].state == State.END,
                f"version {old} to be unloaded",
            )
        # Requests after the unload too: the old version is gone, the new one answers.
        _wait_for(lambda: every_client_has(new, count=3), f"every client to be answered by {new}")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        endpoint.close()

    assert failures == []
    expected = {
        version: in_process(endpoint.model_base / "wdbc" / str(version), SIGNATURES[RAW], rows)[
            "probability"
        ]
        for version in (old, new)
    }
    assert not np.allclose(expected[old], expected[new], atol=1e-6)
    for mine in answers:
        versions = [version for version, _ in mine]
        assert versions == sorted(versions)
        assert versions[0] == old and versions[-1] == new
        for version, probability in mine:
            np.testing.assert_allclose(probability, expected[version], rtol=0, atol=1e-6)
