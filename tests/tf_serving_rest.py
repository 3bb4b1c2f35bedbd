"""TF Serving's REST model-status endpoint, for testing what reads it (the readiness probe).

GET /v1/models/<name> answers with a GetModelStatusResponse printed the way TF Serving's
HTTP handler prints it (proto field names, default values included), or 404 with an
`error` for a model it does not know.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2

PREFIX = "/v1/models/"


def status_json(versions: dict[int, str]) -> str:
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state in sorted(versions.items()):
        entry = response.model_version_status.add(
            version=version, state=get_model_status_pb2.ModelVersionStatus.State.Value(state)
        )
        entry.status.SetInParent()  # TF Serving always sets it (error_code OK when fine)
    return json_format.MessageToJson(
        response, preserving_proto_field_name=True, including_default_value_fields=True
    )


class ModelStatusServer:
    def __init__(self) -> None:
        self.states: dict[str, dict[int, str]] = {}
        self.requested: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requested.append(self.path)
                name = self.path.removeprefix(PREFIX)
                if self.path.startswith(PREFIX) and name in server.states:
                    code, body = 200, status_json(server.states[name])
                else:
                    error = f"Could not find any versions of model {name}"
                    code, body = 404, json.dumps({"error": error})
                payload = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._closed = False

    def __enter__(self) -> ModelStatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._http.shutdown()
            self._http.server_close()
