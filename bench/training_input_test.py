"""bench/training_input.py at smoke size: a well-formed result whose figures agree with the
epoch times it records (no time or target checked)."""

import statistics

import pytest

from bench import training_input


@pytest.mark.e2e
def test_quick_training_input_benchmark_compares_the_same_epochs(run_quick):
    result = run_quick(training_input)["training_input"]
    assert result["target"] == 0.9 and result["higher_is_better"] is True
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"])
    assert result["met"] == (result["ratio"] >= 0.9)

    details = result["details"]
    assert details["strategy"] == "MirroredStrategy"
    examples = details["train_examples_per_epoch"]
    assert examples == details["steps_per_epoch"] * details["batch_size"] > 0
    # The pixels of every counted example, as int64, were held in memory by the baseline.
    assert details["numpy_bytes"] == examples * (50 * 50 * 3 * 8 + 8)
    for side, rate in (("input_function", result["value"]), ("numpy", result["baseline"])):
        fits = details["epoch_seconds"][side]
        assert len(fits) == details["rounds"]
        assert all(len(epochs) == details["epochs_per_fit"] for epochs in fits)
        timed = statistics.median(statistics.median(epochs[1:]) for epochs in fits)
        assert rate == pytest.approx(examples / timed, rel=0.01)
    assert details["input_function_alone_examples_per_s"] > 0
