"""Removes the zero-byte `<dir>/` objects TensorFlow's GCS file system leaves under an artifact.

TF writes one such marker on every `makedirs` (tsl/platform/cloud/gcs_file_system.cc,
CreateDir). KFP's launcher downloads every input artifact into the pod before a step runs and
makes each listed key a local file (backend/src/v2/objectstore/object_store.go:176
DownloadBlob, :251 os.Create); a marker becomes a file where a directory must go, and the
next object below it cannot be written (kubeflow/pipelines#13476). The step that wrote an
artifact removes them once its executor is done: GCS has no directories, TF finds its
directories by prefix without the markers, and nothing else has to change.
"""

from __future__ import annotations

from collections.abc import Iterable

GCS = "gs://"


def _bucket_and_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len(GCS):].partition("/")
    return bucket, key.rstrip("/")


def markers(client, uri: str) -> list:
    """The marker blobs at or below `uri` (a gs:// URI)."""
    bucket, key = _bucket_and_key(uri)
    return [
        blob for blob in client.list_blobs(bucket, prefix=f"{key}/" if key else None)
        if blob.name.endswith("/") and not blob.size
    ]


def remove(uris: Iterable[str], client=None) -> list[str]:
    """Deletes the markers under every gs:// URI of `uris`; returns what it deleted."""
    uris = sorted({u for u in uris if u.startswith(GCS)})
    if not uris:
        return []
    if client is None:
        from google.cloud import storage

        client = storage.Client()
    removed = []
    for uri in uris:
        for blob in markers(client, uri):
            blob.delete()
            removed.append(f"{GCS}{blob.bucket.name}/{blob.name}")
    return removed
