"""bench/serving.py at smoke size: both results written, the figures consistent with each
other (no time or target checked). The first run on a machine trains and pushes WDBC."""


import pytest

from bench import serving


@pytest.mark.e2e
def test_quick_serving_benchmark_writes_latency_and_throughput(run_quick):
    written = run_quick(serving)
    latency, throughput = written["serving_latency"], written["serving_throughput"]
    for result in (latency, throughput):
        assert result["value"] > 0 and result["baseline"] > 0
    assert latency["higher_is_better"] is False and latency["target"] == 1.0
    assert latency["ratio"] == pytest.approx(latency["value"] - latency["baseline"])
    assert latency["met"] == (latency["ratio"] <= 1.0)
    assert throughput["target"] == 0.8
    assert throughput["ratio"] == pytest.approx(throughput["value"] / throughput["baseline"])

    warmup, single, batched = serving.SIZES[True]
    measured = latency["details"]["measured"]
    assert "wdbc" in measured
    for model, by_signature in measured.items():
        assert set(by_signature) == set(serving.SIGNATURES), model
        for figures in by_signature.values():
            for side in ("latency_grpc", "latency_in_process"):
                assert figures[side]["requests"] == single
                assert 0 < figures[side]["p50_ms"] <= figures[side]["p99_ms"]
            assert figures["throughput_grpc"] > 0 and figures["throughput_in_process"] > 0
    # The headlines are the worst cases of what was measured.
    worst = max(f["latency_difference_ms"] for s in measured.values() for f in s.values())
    assert latency["ratio"] == pytest.approx(worst)
    lowest = min(f["throughput_ratio"] for s in measured.values() for f in s.values())
    assert throughput["ratio"] == pytest.approx(lowest)
