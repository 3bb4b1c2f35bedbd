"""TLS: a client trusting the CA that signed the server's certificate gets answers; a client
without TLS, or trusting another CA, is told why at once: no retry mends a TLS mismatch."""

import dataclasses
import datetime
import ipaddress
import subprocess
import sys

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tensorflow_serving.apis.get_model_status_pb2 import ModelVersionStatus

from pipeline.config import SERVING
from pipeline.exits import EXIT_FAILURE
from serving.client import ServingClient, ServingUnavailable
from serving.inputs import RAW, SIGNATURES
from serving.server import ModelServer
from serving.version_manager import VersionManager
from tests.serving_models import WDBC_CSV, in_process, push, wdbc_rows

FAST_RETRIES = dataclasses.replace(SERVING, client_attempts=2, client_backoff_seconds=0.01)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _certificate(subject: str, key, issuer_name: str, issuer_key, *, ca: bool):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _authority(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    return key, _certificate(name, key, name, key, ca=True)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """(address, trusted CA PEM, model base) of a server whose certificate the CA signed."""
    model_base = tmp_path_factory.mktemp("model-base")
    push(model_base, "wdbc", 1)
    ca_key, ca_cert = _authority("bcpipe test CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate("localhost", server_key, "bcpipe test CA", ca_key, ca=False)
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    store = VersionManager(model_base=str(model_base))
    store.poll()
    server = ModelServer(store, host="127.0.0.1", port=0, tls=(key_pem, _pem(server_cert)))
    port = server.start()
    yield f"127.0.0.1:{port}", _pem(ca_cert), model_base
    server.stop(grace=1.0)


def test_a_client_trusting_the_ca_gets_the_models_answers(tls_server):
    address, ca_pem, model_base = tls_server
    rows = wdbc_rows(6).request_inputs(RAW)
    with ServingClient(address, ca_cert=ca_pem) as client:
        answer = client.predict("wdbc", rows, signature=SIGNATURES[RAW])
    expected = in_process(model_base / "wdbc" / "1", SIGNATURES[RAW], rows)
    np.testing.assert_allclose(
        answer.outputs["probability"], expected["probability"], rtol=0, atol=1e-6
    )


def test_a_client_trusting_the_ca_file_by_path(tls_server, tmp_path):
    address, ca_pem, _ = tls_server
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_pem)
    with ServingClient(address, ca_cert=ca_file) as client:
        assert client.status("wdbc")[1].state == ModelVersionStatus.AVAILABLE


@pytest.mark.parametrize("trust", ["no TLS", "another CA"])
def test_a_client_that_cannot_verify_the_server_is_refused(tls_server, trust):
    address, _, _ = tls_server
    ca_cert = None if trust == "no TLS" else _pem(_authority("someone else")[1])
    expected = "may speak TLS only" if ca_cert is None else "not signed by --ca-cert"
    with ServingClient(address, ca_cert=ca_cert, settings=FAST_RETRIES) as client:
        with pytest.raises(ServingUnavailable, match=f"{address}: .*{expected}"):
            client.status("wdbc")


@pytest.mark.parametrize("trust", ["no TLS", "another CA"])
def test_predict_that_cannot_verify_the_server_says_why_at_once(tls_server, tmp_path, trust):
    address, _, _ = tls_server
    argv = [sys.executable, "-m", "pipeline.cli", "predict", "--server", address, "--model",
            "wdbc", "--csv", str(WDBC_CSV)]
    if trust == "another CA":
        (tmp_path / "ca.pem").write_bytes(_pem(_authority("someone else")[1]))
        argv += ["--ca-cert", str(tmp_path / "ca.pem")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_FAILURE
    (line,) = done.stderr.strip().splitlines()
    expected = "may speak TLS only" if trust == "no TLS" else "not signed by --ca-cert"
    assert line.startswith(f"bcpipe: {address}: ") and expected in line
