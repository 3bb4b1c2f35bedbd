"""Which versions are loaded, and the polling that changes that without dropping a request.

The models come from a TF Serving `models.config` (name, base_path, version policy, version
labels) or, without one, from every sub-directory of a model base with TF Serving's default
policy (the latest version). Each poll loads the versions the policy asks for, replays their
warmup records, marks them AVAILABLE and only then unloads what the policy no longer wants,
so some version answers throughout. A request holds its own reference to the version it
resolved, so an unload never cuts a request short.

A version is never loaded half-written: its `saved_model.pb` must parse and, when the model
has variables, the variables index and every data shard must be there. One that looks whole
but fails to load or warm up is reported in GetModelStatus (END, with the error), is not
retried, and the version policy skips it: the versions already serving stay, and a server
started next to a broken latest version serves the one before (TF Serving would serve none).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, model_pb2
from tensorflow_serving.config import model_server_config_pb2

from pipeline.config import SERVING
from serving import layout
from serving.loadable import load, missing_part
from serving.servable import Servable
from serving.serving_config import parse_models_config
from serving.status import invalid_argument, not_found

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State


def discover_models(model_base: str) -> model_server_config_pb2.ModelServerConfig:
    """One model per visible sub-directory, TF Serving's defaults otherwise."""
    config = model_server_config_pb2.ModelServerConfig()
    names = tf.io.gfile.listdir(model_base) if tf.io.gfile.isdir(model_base) else []
    for name in sorted(n.rstrip("/") for n in names):
        if not name.startswith(".") and tf.io.gfile.isdir(os.path.join(model_base, name)):
            entry = config.model_config_list.config.add()
            entry.name = name
            entry.base_path = os.path.join(model_base, name)
            entry.model_platform = "tensorflow"
    return config


def aspired_versions(policy: model_server_config_pb2.ModelConfig, on_disk: list[int]) -> set[int]:
    """The versions a model's version policy wants loaded, from those on disk."""
    which = policy.model_version_policy.WhichOneof("policy_choice")
    if which == "all":
        return set(on_disk)
    if which == "specific":
        return set(on_disk) & set(policy.model_version_policy.specific.versions)
    keep = policy.model_version_policy.latest.num_versions if which == "latest" else 1
    return set(on_disk[-max(keep, 1) :])


@dataclass
class _Version:
    state: int
    servable: Servable | None = None
    error: str = ""
    # Reported as not yet whole on disk; loaded once it is.
    incomplete: bool = False


def _request_text(name: str, version: int | None) -> str:
    return f"Latest({name})" if version is None else f"Specific({name}, {version})"


class VersionManager:
    """Loaded versions per model, resolved per request, changed by `poll()`."""

    def __init__(
        self,
        *,
        model_base: str | None = None,
        models_config: str | None = None,
        warmup_iterations: int = 1,
        session_threads: Mapping[str, int] | None = None,
        incomplete_report_seconds: float = SERVING.incomplete_report_seconds,
    ):
        if (model_base is None) == (models_config is None):
            raise ValueError("give a model base or a models.config, not both")
        self._model_base = model_base
        self._config_path = models_config
        self._config_text: str | None = None
        self._config = model_server_config_pb2.ModelServerConfig()
        self._warmup_iterations = warmup_iterations
        self._session_threads = dict(session_threads or {})
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._versions: dict[str, dict[int, _Version]] = {}
        self._labels: dict[str, dict[str, int]] = {}
        self._skipped: set[str] = set()
        self._incomplete_since: dict[str, float] = {}
        self._incomplete_report_seconds = incomplete_report_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- requests ---------------------------------------------------------------------------

    def servable(self, spec: model_pb2.ModelSpec) -> Servable:
        """The version a request's ModelSpec names: its version, its label or the latest."""
        with self._lock:
            versions = self._versions.get(spec.name)
            choice = spec.WhichOneof("version_choice")
            version = None
            if choice == "version":
                version = spec.version.value
            elif choice == "version_label":
                version = self._labels.get(spec.name, {}).get(spec.version_label)
                if version is None:
                    raise invalid_argument(
                        f"Unrecognized servable version label: {spec.version_label}"
                    )
            available = {
                v: entry.servable
                for v, entry in (versions or {}).items()
                if entry.state == State.AVAILABLE and entry.servable is not None
            }
            if version is None and available:
                return available[max(available)]
            if version in available:
                return available[version]
            raise not_found(f"Servable not found for request: {_request_text(spec.name, version)}")

    def status(self, spec: model_pb2.ModelSpec) -> get_model_status_pb2.GetModelStatusResponse:
        with self._lock:
            versions = dict(self._versions.get(spec.name, {}))
        if spec.HasField("version"):
            wanted = spec.version.value
            if wanted not in versions:
                raise not_found(f"Could not find version {wanted} of model {spec.name}")
            versions = {wanted: versions[wanted]}
        elif not versions:
            raise not_found(f"Could not find any versions of model {spec.name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in sorted(versions):
            entry = versions[version]
            status = response.model_version_status.add(version=version, state=entry.state)
            if entry.error:
                status.status.error_code = 2  # tensorflow.error.UNKNOWN
                status.status.error_message = entry.error
        return response

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._versions)

    # -- configuration ----------------------------------------------------------------------

    def reload_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Replaces the served models' config (ModelService.HandleReloadConfigRequest)."""
        if config.WhichOneof("config") != "model_config_list":
            raise invalid_argument("only a model_config_list is supported")
        with self._poll_lock:
            self._config = config
            self._config_path = self._model_base = None
            self._sync()

    def _refresh_config(self) -> None:
        if self._model_base is not None:
            self._config = discover_models(self._model_base)
        elif self._config_path is not None:
            with tf.io.gfile.GFile(self._config_path) as handle:
                text = handle.read()
            if text != self._config_text:
                try:
                    self._config = parse_models_config(text)
                except Exception as err:  # keep serving what the last good config said
                    log.error("models.config %s not reloaded: %s", self._config_path, err)
                self._config_text = text

    # -- polling ----------------------------------------------------------------------------

    def poll(self) -> None:
        """One pass: read the config and the disk, load what is wanted, then unload."""
        with self._poll_lock:
            self._refresh_config()
            self._sync()

    def _sync(self) -> None:
        models = {m.name: m for m in self._config.model_config_list.config}
        with self._lock:
            self._labels = {name: dict(m.version_labels) for name, m in models.items()}
            for name in set(self._versions) - set(models):
                self._retire(name, set(self._versions[name]))
                del self._versions[name]
            for name in models:
                self._versions.setdefault(name, {})
        for name, model in models.items():
            self._sync_model(name, model)

    def _candidates(self, name: str, base: str) -> list[int]:
        """Versions on disk the policy may choose from: not those still incomplete (checked
        again each poll) nor those that failed to load (the policy falls back past them).
        One still incomplete after a push would have ended is reported in the status, as TF
        Serving reports a version it could not load, until it is whole."""
        with self._lock:
            known = dict(self._versions[name])
        versions = []
        for version in layout.list_versions(base):
            path = layout.version_dir(base, version)
            entry = known.get(version)
            if entry is not None and not entry.incomplete:
                if not entry.error:
                    versions.append(version)
                continue
            missing = missing_part(path)
            if missing is None:
                self._incomplete_since.pop(path, None)
                if entry is not None:
                    with self._lock:
                        del self._versions[name][version]
                versions.append(version)
                continue
            since = self._incomplete_since.setdefault(path, time.monotonic())
            if entry is None and time.monotonic() - since >= self._incomplete_report_seconds:
                log.error("%s: still not a complete SavedModel: %s", path, missing)
                with self._lock:
                    self._versions[name][version] = _Version(
                        State.END, error=f"not a complete SavedModel: {missing}", incomplete=True
                    )
            elif path not in self._skipped:
                log.warning("%s: not a complete SavedModel yet (%s); not loading it", path, missing)
                self._skipped.add(path)
        return versions

    def _sync_model(self, name: str, model: model_server_config_pb2.ModelConfig) -> None:
        base = model.base_path
        # A version that fails leaves the candidates, so the policy chooses again at once:
        # a broken latest version is passed over in the same poll, not one poll at a time.
        loaded = False
        while not loaded:
            wanted = aspired_versions(model, self._candidates(name, base))
            loaded = True
            for version in sorted(wanted):
                with self._lock:
                    known = self._versions[name].get(version)
                # One unloaded earlier may be wanted again.
                if known is None or known.state == State.END:
                    loaded &= self._load(name, version, layout.version_dir(base, version))
        with self._lock:
            versions = self._versions[name]
            # Keep the old versions until one the policy wants is AVAILABLE.
            if not wanted or any(
                versions[v].state == State.AVAILABLE for v in wanted if v in versions
            ):
                self._retire(name, {v for v in versions if v not in wanted})

    def _load(self, name: str, version: int, path: str) -> bool:
        entry = _Version(State.LOADING)
        with self._lock:
            self._versions[name][version] = entry
        log.info("loading %s version %d from %s", name, version, path)
        try:
            servable, replayed = load(
                name, version, path, self._session_threads.get(name, 0), self._warmup_iterations
            )
        except Exception as err:  # a bad version must not take the server down
            log.error("%s version %d failed to load: %s", name, version, err)
            with self._lock:
                entry.state, entry.error = State.END, f"{type(err).__name__}: {err}"
            return False
        with self._lock:
            entry.servable, entry.state = servable, State.AVAILABLE
        log.info("%s version %d AVAILABLE (%d warmup records replayed)", name, version, replayed)
        return True

    def _retire(self, name: str, versions: set[int]) -> None:
        """Unloads; the caller holds the lock. Requests already holding a version finish."""
        for version in versions:
            entry = self._versions[name][version]
            if entry.servable is not None:
                log.info("%s version %d unloaded", name, version)
            entry.servable, entry.state = None, State.END

    # -- background -------------------------------------------------------------------------

    def start(self, poll_seconds: float) -> None:
        def loop():
            while not self._stop.wait(poll_seconds):
                try:
                    self.poll()
                except Exception:  # the next poll tries again
                    log.exception("poll failed")

        self._thread = threading.Thread(target=loop, name="version-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
