"""Which split each patient goes to, decided from the patient ids before any patch is read.

Hash buckets leave a split empty on a small cohort (12 patients at 8/1/1 gave an eval split
of none). Here the proportions are met as closely as whole patients allow with every split
holding at least one patient once there are as many patients as splits, and patients with
positive patches are dealt out first so that each split gets one while they last. The order
within each group is a hash of the id: the same ids give the same assignment on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

Weights = Sequence[tuple[str, int]]


def allocate(n: int, weights: Weights) -> list[int]:
    """How many of `n` go to each split: largest remainders of the proportions, then one
    moved from the largest split to each empty one (in the splits' order) while it can."""
    total = sum(w for _, w in weights)
    shares = [n * w / total for _, w in weights]
    sizes = [int(s) for s in shares]
    by_remainder = sorted(range(len(sizes)), key=lambda i: sizes[i] - shares[i])
    for i in by_remainder[: n - sum(sizes)]:
        sizes[i] += 1
    for empty in range(len(sizes)):
        largest = max(range(len(sizes)), key=lambda i: sizes[i])
        if sizes[empty] == 0 and sizes[largest] > 1:
            sizes[largest] -= 1
            sizes[empty] = 1
    return sizes


def _hashed(ids) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha1(i.encode()).digest())


def assign(patients: Mapping[str, bool], weights: Weights) -> dict[str, str]:
    """patient id -> split name; `patients` maps each id to whether it has positive patches."""
    positives = _hashed(p for p, positive in patients.items() if positive)
    negatives = _hashed(p for p, positive in patients.items() if not positive)
    sizes = allocate(len(patients), weights)
    dealt = [min(want, size) for want, size in
             zip(allocate(len(positives), weights), sizes, strict=True)]
    spare = len(positives) - sum(dealt)
    for i, size in enumerate(sizes):
        extra = min(spare, size - dealt[i])
        dealt[i] += extra
        spare -= extra
    assignment = {}
    for (name, _), size, positive_count in zip(weights, sizes, dealt, strict=True):
        for patient in positives[:positive_count] + negatives[: size - positive_count]:
            assignment[patient] = name
        positives = positives[positive_count:]
        negatives = negatives[size - positive_count:]
    return assignment


def patients_needed(weights: Weights, split: str, at_least: int) -> int:
    """The fewest patients for which every split gets one and `split` gets `at_least`."""
    index = [name for name, _ in weights].index(split)
    n = len(weights)
    while True:
        sizes = allocate(n, weights)
        if min(sizes) >= 1 and sizes[index] >= at_least:
            return n
        n += 1
