"""A SavedModel tree copied to GCS (fake-gcs-server, written by TF's own file system) keeps its
layout: the files at the version's root stay there."""

import os
import subprocess
import sys

from tests.fake_gcs import fake_gcs
from tests.kfp_harness import gcs_client

COPY = """
import sys
from components.model_files import copy_tree
copy_tree(sys.argv[1], "gs://models/wdbc/1")
"""


def test_copy_tree_to_gcs_keeps_the_layout(tmp_path):
    source = tmp_path / "model"
    (source / "variables").mkdir(parents=True)
    (source / "saved_model.pb").write_bytes(b"graph")
    (source / "variables" / "variables.index").write_bytes(b"index")
    with fake_gcs(tmp_path, "models") as env:
        subprocess.run([sys.executable, "-c", COPY, str(source)], check=True, timeout=300,
                       env={**os.environ, **env, "TF_CPP_MIN_LOG_LEVEL": "3"})
        files = {b.name for b in gcs_client(env).list_blobs("models") if b.size}
    assert files == {"wdbc/1/saved_model.pb", "wdbc/1/variables/variables.index"}
