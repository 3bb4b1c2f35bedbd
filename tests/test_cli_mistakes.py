"""Ordinary mistakes get one clear line and the documented exit code, never a traceback."""

import socket

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ml_metadata.metadata_store import metadata_store

from pipeline import cli, exits, metadata
from serving import layout
from tests.serving_models import push
from tests.test_serving_tls import _authority, _pem


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == exits.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return str(path)


@pytest.mark.parametrize("command", [
    ["data", "synth-idc", "{file}"],
    ["data", "import-wdbc", "--sklearn", "--into", "{file}"],
    ["serving-config", "--model-base", "/models", "--out", "{file}"],
    ["compile", "kubeflow", "--pipeline", "wdbc", "--image", "r/i:t", "--pipeline-root",
     "gs://b/r", "--out", "{file}"],
    ["report", "--pipeline", "wdbc", "--out", "{file}"],
])
def test_a_file_given_as_the_output_folder_is_a_usage_error(capsys, a_file, command):
    err = _usage_error(capsys, [a.format(file=a_file) for a in command])
    assert err.startswith(f"usage: bcpipe {command[0]}")
    assert err.strip().endswith(f"{a_file}: a file, not a folder")


@pytest.mark.parametrize("command", [
    ["serve", "--model-base", ".", "--tls-cert", "missing.pem", "--tls-key", "missing.key"],
    ["serve", "--models-config", "missing.config"],
    ["predict", "--server", "localhost:8500", "--model", "wdbc", "--csv", "missing.csv"],
    ["predict", "--server", "localhost:8500", "--model", "wdbc", "--png", "missing.png"],
    ["predict", "--server", "localhost:8500", "--model", "wdbc", "--csv",
     "data/wdbc/span-1/wdbc.csv", "--ca-cert", "missing.pem"],
])
def test_a_missing_input_file_is_a_usage_error(capsys, command):
    err = _usage_error(capsys, command)
    assert err.startswith(f"usage: bcpipe {command[0]}")
    assert "missing." in err and ": no such file" in err


def test_a_certificate_and_a_key_that_do_not_match_are_refused_before_loading(tmp_path, capsys):
    _, cert = _authority("one")
    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "cert.pem").write_bytes(_pem(cert))
    (tmp_path / "key.pem").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    err = _usage_error(capsys, [
        "serve", "--model-base", str(tmp_path / "models"),
        "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"),
    ])
    assert "are not a PEM certificate and its own key" in err


def test_a_port_in_use_is_refused_before_any_model_loads(tmp_path, capsys):
    push(tmp_path, "wdbc", 1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.main(["serve", "--model-base", str(tmp_path), "--host", "127.0.0.1",
                         "--port", str(port)])
    assert code == exits.EXIT_FAILURE
    line = _one_line(capsys)
    assert line.startswith(f"bcpipe: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_report_without_runs_names_the_work_dir(tmp_path, capsys):
    err = _usage_error(capsys, ["report", "--pipeline", "wdbc", "--work-dir",
                                str(tmp_path / "wrong"), "--out", str(tmp_path / "out")])
    assert err.startswith("usage: bcpipe report")  # the subcommand's usage, not bcpipe's
    assert f"no runs of bcpipe-wdbc under --work-dir {tmp_path / 'wrong'}" in err


@pytest.mark.parametrize("record", [b"{not json", b"[1, 2]", b'{"content_hash": "x"}'])
def test_lineage_of_a_version_with_a_malformed_push_record(tmp_path, capsys, record):
    version = push(tmp_path / "work" / "serving", "wdbc", 1)
    (version / layout.PUSH_RECORD).parent.mkdir(exist_ok=True)
    (version / layout.PUSH_RECORD).write_bytes(record)
    store_path = tmp_path / "work" / "bcpipe-wdbc" / "metadata.sqlite"
    metadata_store.MetadataStore(metadata.sqlite_config(store_path))
    code = cli.main(["lineage", "--model", "wdbc", "--version", "1",
                     "--work-dir", str(tmp_path / "work")])
    assert code == exits.EXIT_FAILURE
    line = _one_line(capsys)
    assert line.startswith("bcpipe: cannot trace wdbc version 1: ") and "push record" in line


def test_submit_to_a_host_that_does_not_answer(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # kfp.Client reads ~/.config/kfp/context.json
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code = cli.main(["submit", "--host", f"http://127.0.0.1:{port}", "--pipeline", "wdbc",
                     "--image", "r/i:t", "--pipeline-root", "gs://b/r"])
    assert code == exits.EXIT_FAILURE
    line = _one_line(capsys)
    assert line.startswith(f"bcpipe: --host http://127.0.0.1:{port} does not answer: ")


def test_run_idc_without_input_points_at_the_generator(capsys, tmp_path):
    err = _usage_error(capsys, ["run", "idc", "--work-dir", str(tmp_path)])
    assert "--input is required for idc" in err and "bcpipe data synth-idc" in err


@pytest.mark.parametrize("layout", ["no spans", "a raw data.csv in span-1"])
def test_a_wdbc_input_not_made_by_import_wdbc_is_told_how_to_bring_it_in(capsys, tmp_path,
                                                                          layout):
    data = tmp_path / "data"
    data.mkdir()
    if layout == "no spans":
        (data / "data.csv").write_text("id,diagnosis,radius_mean\n")
        expected = f"{data} holds no span-<N>/ folders"
    else:
        (data / "span-1").mkdir()
        (data / "span-1" / "data.csv").write_text('"id","diagnosis","radius_mean"\n')
        expected = "data.csv is not a canonical WDBC CSV"
    err = _usage_error(capsys, ["run", "wdbc", "--input", str(data), "--work-dir",
                                str(tmp_path / "work")])
    assert expected in err and f"bcpipe data import-wdbc FILE --into {data}" in err
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("patients", ["9000", "0"])
def test_synth_idc_with_more_patients_than_ids_says_how_many_there_are(capsys, tmp_path,
                                                                       patients):
    err = _usage_error(capsys, ["data", "synth-idc", str(tmp_path / "a"), "--patients", patients])
    assert err.strip().endswith("--patients must be 1..8034 (the archive's patient ids run "
                                "8863..16896)")
    assert not (tmp_path / "a").exists()


_COMPILE = ["compile", "kubeflow", "--pipeline", "wdbc", "--out", "{tmp}/out"]


@pytest.mark.parametrize("command, message", [
    ([*_COMPILE, "--image", "", "--pipeline-root", "gs://b/r"], "--image: must not be empty"),
    ([*_COMPILE, "--image", "r/i:t", "--pipeline-root", " "],
     "--pipeline-root: must not be empty"),
    ([*_COMPILE, "--image", "r/i:t", "--pipeline-root", "gs://b/r", "--beam-arg=nodashes"],
     "'nodashes': a Beam option starts with --"),
    (["serving-config", "--model-base", "", "--out", "{tmp}/out"],
     "--model-base: must not be empty"),
    (["predict", "--server", "localhost", "--model", "wdbc", "--csv",
      "data/wdbc/span-1/wdbc.csv", "--timeout", "0"], "0: must be more than 0 seconds"),
    (["predict", "--server", "localhost", "--model", "wdbc", "--csv",
      "data/wdbc/span-1/wdbc.csv", "--timeout", "-1"], "-1: must be more than 0 seconds"),
])
def test_odd_values_are_usage_errors(capsys, tmp_path, command, message):
    err = _usage_error(capsys, [a.format(tmp=tmp_path) for a in command])
    assert err.startswith(f"usage: bcpipe {command[0]}")
    assert message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("given, address", [
    ("localhost", "localhost:8500"),
    ("serving.example:9000", "serving.example:9000"),
    ("[::1]", "[::1]:8500"),
    ("[::1]:9000", "[::1]:9000"),
])
def test_a_server_without_a_port_gets_tf_servings(given, address):
    assert cli.server_address(given) == address


def test_predict_of_a_kaggle_data_csv_points_to_import_wdbc(capsys, tmp_path):
    kaggle = tmp_path / "data.csv"
    kaggle.write_text('"id","diagnosis","radius_mean","texture_mean","concave points_mean",\n'
                      '842302,M,17.99,10.38,0.1471,\n')
    code = cli.main(["predict", "--server", "127.0.0.1:1", "--model", "wdbc", "--csv",
                     str(kaggle)])
    assert code == exits.EXIT_REJECTED
    line = _one_line(capsys)
    assert "not a canonical WDBC CSV" in line and "bcpipe data import-wdbc" in line
