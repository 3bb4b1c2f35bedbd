"""bench.common.peak_rss_of: the peak of the program measured, even when the process between
(a profiler) leaves it unreaped."""

import sys

from bench import common

MIB = 2**20
# Touches every page of 200 MiB, so that they count in its resident set.
ALLOCATE = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"


def test_peak_of_the_command():
    peak, wall, done = common.peak_rss_of([sys.executable, "-c", ALLOCATE])
    assert done.returncode == 0 and wall > 0
    assert 200 * MIB <= peak < 400 * MIB


def test_peak_of_a_descendant_its_parent_left_unreaped():
    # The parent starts the program and exits at once, as a profiler that does not wait.
    leave = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {ALLOCATE!r}])"
    peak, _, done = common.peak_rss_of([sys.executable, "-c", leave])
    assert done.returncode == 0
    assert peak >= 200 * MIB
