import pytest

from pipeline.quantities import bytes_of, cpus, gigabytes, mebibytes


def test_cpus_in_cores():
    assert [cpus(q) for q in ("4", "1.5", "500m")] == [4.0, 1.5, 0.5]


def test_memory_in_bytes_and_gigabytes():
    assert bytes_of("4Gi") == 4 * 2**30 and bytes_of("512M") == 512e6 and bytes_of("10") == 10
    assert gigabytes("16G") == 16.0 and gigabytes("1Ki") == 1024 / 1e9


def test_sizes_round_up_to_whole_mebibytes():
    assert mebibytes(2**20) == "1Mi" and mebibytes(2**20 + 1) == "2Mi"


@pytest.mark.parametrize("bad", ["", "four", "4 G", "-1", "4g", "1e3", "4ki"])
def test_what_kubernetes_would_not_read_is_refused(bad):
    with pytest.raises(ValueError, match="quantity"):
        bytes_of(bad)
    with pytest.raises(ValueError, match="quantity"):
        cpus(bad)
