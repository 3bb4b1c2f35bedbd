"""Directory markers on a GCS (fake-gcs-server): what KFP's launcher makes of them, and that
removing them leaves every object of the artifact and nothing else touched."""

import pytest

from pipeline.directory_markers import remove
from tests.fake_gcs import fake_gcs
from tests.kfp_harness import download_blob, gcs_client

BUCKET = "markers"
# What TF leaves for makedirs("a/Split-train") and one file written below it.
OBJECTS = {"a/": b"", "a/Split-train/": b"", "a/Split-train/data.gz": b"rows",
           "a/result.json": b"{}", "ab/": b"", "other/": b""}


@pytest.fixture
def client(tmp_path):
    with fake_gcs(tmp_path, BUCKET) as env:
        client = gcs_client(env)
        for name, content in OBJECTS.items():
            client.bucket(BUCKET).blob(name).upload_from_string(content)
        yield client


def names(client) -> set[str]:
    return {b.name for b in client.list_blobs(BUCKET)}


def test_the_launcher_cannot_download_an_artifact_with_markers(client, tmp_path):
    # The `a/` marker becomes a file where the directory `a` must go (kubeflow/pipelines#13476).
    with pytest.raises(OSError):
        download_blob(client, f"gs://{BUCKET}/a", tmp_path / "pod" / "a")


def test_removing_the_markers_lets_it_download_whole(client, tmp_path):
    removed = remove([f"gs://{BUCKET}/a", "/local/path/a"], client=client)

    assert sorted(removed) == [f"gs://{BUCKET}/a/", f"gs://{BUCKET}/a/Split-train/"]
    assert names(client) == set(OBJECTS) - {"a/", "a/Split-train/"}
    download_blob(client, f"gs://{BUCKET}/a", tmp_path / "pod" / "a")
    assert (tmp_path / "pod" / "a" / "Split-train" / "data.gz").read_bytes() == b"rows"
    assert (tmp_path / "pod" / "a" / "result.json").read_bytes() == b"{}"


def test_local_uris_need_no_client():
    assert remove(["/runs/a", "relative/b"]) == []
