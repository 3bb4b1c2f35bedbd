import pytest
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx

from pipeline import metadata


def test_sqlite_config_is_the_one_tfx_makes(tmp_path):
    path = tmp_path / "new" / "dir" / "metadata.sqlite"
    ours = metadata.sqlite_config(path)
    assert path.parent.is_dir()
    assert ours == tfx.orchestration.metadata.sqlite_metadata_connection_config(str(path))
    store = metadata_store.MetadataStore(ours)
    assert store.get_contexts() == [] and path.exists()


def test_a_missing_store_is_refused_not_created(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metadata store"):
        metadata.open_store(tmp_path / "metadata.sqlite")
    assert not (tmp_path / "metadata.sqlite").exists()
