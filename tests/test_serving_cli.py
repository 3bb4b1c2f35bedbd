"""`bcpipe serve` as a user runs it (a process, SIGTERM to stop), `bcpipe predict` against it,
and the demo's serve-query-stop."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import cli
from pipeline.config import SERVING, WDBC_FEATURES
from serving import smoke
from serving.client import ServingClient
from serving.commands import listening_address
from serving.inputs import SIGNATURES, png_files, wdbc_csv
from tests.serving_models import MODELS, WDBC_CSV, in_process, png_patches, push, wdbc_rows


@pytest.fixture(scope="module")
def model_base(tmp_path_factory):
    base = tmp_path_factory.mktemp("model-base")
    for model in MODELS:
        push(base, model, 1)
    return base


@pytest.fixture(scope="module")
def server(model_base, tmp_path_factory):
    """(process, address) of `bcpipe serve` on a port the OS chose."""
    log = (tmp_path_factory.mktemp("serve-log") / "stderr.txt").open("w+")
    args = [sys.executable, "-m", "pipeline.cli", "serve", "--model-base", str(model_base)]
    process = subprocess.Popen(
        [*args, "--host", "127.0.0.1", "--port", "0", "--poll-seconds", "0.2"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    address = listening_address(process.stdout)
    if address is None:
        log.seek(0)
        pytest.fail(f"bcpipe serve did not start: {log.read()[-3000:]}")
    yield process, address
    if process.poll() is None:
        process.kill()
    process.wait()
    log.close()


def _predict_lines(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = cli.main(["predict", *args])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def _rows_csv(path: Path, rows, later_first_feature: str | None = None) -> Path:
    """`rows` as a canonical CSV without diagnosis; `later_first_feature`, if given, is the
    first feature's text in every row after the first."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *WDBC_FEATURES])
        for i, key in enumerate(rows.keys):
            values = [float(rows.raw[name][i]) for name in WDBC_FEATURES]
            if i and later_first_feature is not None:
                values[0] = later_first_feature
            writer.writerow([key, *values])
    return path


@pytest.mark.parametrize("signature", ["raw", "examples"])
def test_predict_a_csv_without_diagnosis(server, model_base, capsys, tmp_path, signature):
    _, address = server
    rows = wdbc_rows(7)
    path = _rows_csv(tmp_path / "rows.csv", rows)
    argv = ["--server", address, "--model", "wdbc", "--csv", str(path), "--signature", signature]
    code, lines, _ = _predict_lines(capsys, *argv)
    assert code == cli.EXIT_OK
    expected = in_process(model_base / "wdbc" / "1", SIGNATURES["raw"], wdbc_csv(path).raw)
    assert [line["id"] for line in lines] == rows.keys
    assert {(line["model"], line["version"]) for line in lines} == {("wdbc", 1)}
    np.testing.assert_allclose(
        [line["probability"] for line in lines], expected["probability"], rtol=0, atol=1e-6
    )
    assert [line["label"] for line in lines] == expected["label"].tolist()


def test_predict_pngs(server, model_base, capsys, tmp_path):
    _, address = server
    paths = []
    for i, png in enumerate(png_patches(3, seed=11)):
        paths.append(tmp_path / f"patch-{i}.png")
        paths[-1].write_bytes(png)
    argv = ["--server", address, "--model", "idc_patch", "--png", *map(str, paths)]
    code, lines, _ = _predict_lines(capsys, *argv)
    assert code == cli.EXIT_OK
    expected = in_process(model_base / "idc_patch" / "1", "serving_raw", png_files(paths).raw)
    assert [line["file"] for line in lines] == [str(p) for p in paths]
    np.testing.assert_allclose(
        [line["probability"] for line in lines], expected["probability"], rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_predict_refuses_non_finite_values_before_sending(capsys, tmp_path, value):
    rows = wdbc_rows(2)
    path = _rows_csv(tmp_path / "rows.csv", rows, later_first_feature=value)
    # No server listens there: nothing may be sent.
    argv = ["--server", "127.0.0.1:1", "--model", "wdbc", "--csv", str(path)]
    code, lines, err = _predict_lines(capsys, *argv)
    assert (code, lines) == (cli.EXIT_REJECTED, [])
    assert f"id {rows.keys[1]}, column {WDBC_FEATURES[0]}" in err and "not a finite" in err


def test_predict_names_each_refused_patch_and_answers_the_others(server, capsys, tmp_path):
    _, address = server
    good = tmp_path / "good.png"
    good.write_bytes(png_patches(1, seed=3)[0])
    jpeg, large = tmp_path / "jpeg.png", tmp_path / "large.png"
    Image.new("RGB", (50, 50)).save(jpeg, "JPEG")
    Image.new("RGB", (4200, 4200)).save(large, "PNG")
    argv = ["--server", address, "--model", "idc_patch", "--png", str(jpeg), str(good), str(large)]
    code, lines, err = _predict_lines(capsys, *argv)
    assert code == cli.EXIT_REJECTED
    assert [line["file"] for line in lines] == [str(good)]
    assert err.splitlines() == [
        f"bcpipe: refused {jpeg}: not a PNG",
        f"bcpipe: refused {large}: 4200x4200 pixels; patches are at most 50x50",
    ]


def test_predict_into_a_reader_that_stops_early_ends_quietly(server, tmp_path):
    _, address = server
    rows = WDBC_CSV.read_text().splitlines()
    many = tmp_path / "many.csv"
    many.write_text("\n".join([rows[0], *rows[1:] * 6]) + "\n")  # more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "predict", "--server", address, "--model",
         "wdbc", "--csv", str(many)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # as `| head -1` does
    assert process.wait(timeout=120) == cli.EXIT_OK
    assert first["model"] == "wdbc"
    assert process.stderr.read() == b""


def test_predict_names_what_the_server_refused(server, capsys):
    _, address = server
    argv = ["--server", address, "--model", "wdbc", "--csv", str(WDBC_CSV)]
    code, lines, err = _predict_lines(capsys, *argv, "--version-label", "gold")
    assert (code, lines) == (cli.EXIT_FAILURE, [])
    assert "INVALID_ARGUMENT" in err and "gold" in err


def test_the_demo_serves_queries_and_stops(model_base):
    printed = []
    samples = {"wdbc": wdbc_rows(3)}
    assert smoke.run(model_base, samples, out=printed.append) == cli.EXIT_OK
    answers = [json.loads(line) for line in printed if line.startswith("{")]
    assert [a["id"] for a in answers] == wdbc_rows(3).keys
    assert any(line.startswith("idc_patch version 1: signatures") for line in printed)
    assert printed[-1] == "== server stopped; 2 models queried, 0 problems"


def test_serve_sets_its_grpc_experiments_before_grpc_reads_them(model_base, tmp_path):
    # gRPC's tcp tracer names the listener's source file: iomgr's when the experiment holds.
    env = {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}
    env.update(GRPC_VERBOSITY="debug", GRPC_TRACE="tcp")
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--model-base", str(model_base),
             "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
        )
        address = listening_address(process.stdout)
        with ServingClient(address) as client:
            client.wait_until_available("wdbc", 1, timeout=60)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert SERVING.grpc_experiments == "-event_engine_listener"
    assert "tcp_server_posix.cc" in log.read_text()


def test_sigterm_stops_the_server_cleanly(server):
    process, _ = server
    process.send_signal(signal.SIGTERM)
    remaining, _ = process.communicate()
    assert process.returncode == cli.EXIT_OK
    assert "stopping" in remaining


def test_serve_on_a_model_base_not_there_says_so_and_serves_what_appears(tmp_path):
    missing = tmp_path / "not-yet"
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--model-base", str(missing),
         "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert listening_address(process.stdout) is not None
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert f"--model-base {missing} does not exist (yet)" in err.splitlines()[0]
