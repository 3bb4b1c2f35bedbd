"""Kubernetes resource quantities ("500m", "16G", "4Gi"), read as KFP's pipeline spec needs
them: CPUs in cores, memory in GB (KFP writes a memory limit back as "<value>G"), and sizes
written back as Kubernetes quantities."""

from __future__ import annotations

import math
import re

_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def cpus(quantity: str) -> float:
    """A CPU quantity ("4", "1.5", "500m") in cores."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(m?)", quantity)
    if not match:
        raise ValueError(f"not a CPU quantity: {quantity!r} (e.g. 4, 1.5, 500m)")
    return float(match.group(1)) / (1000 if match.group(2) else 1)


def bytes_of(quantity: str) -> float:
    """A memory or storage quantity ("16G", "4Gi", "512M") in bytes."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|[MGT]i?|k)?", quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r} (e.g. 16G, 4Gi, 512Mi)")
    unit = match.group(2) or ""
    return float(match.group(1)) * _BINARY.get(unit, _DECIMAL.get(unit, 0))


def gigabytes(quantity: str) -> float:
    """A memory quantity in GB (10^9 bytes), the unit of the pipeline spec's ResourceSpec."""
    return bytes_of(quantity) / 1e9


def mebibytes(size: float) -> str:
    """`size` bytes as a quantity, rounded up to whole Mi."""
    return f"{math.ceil(size / 2**20)}Mi"
