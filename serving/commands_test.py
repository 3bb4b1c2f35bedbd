"""Reading the address `bcpipe serve` announces, as scripts and tests that start it do."""

import io

from serving.commands import LISTENING, listening_address


def test_the_address_comes_from_the_listening_line_after_any_other_output():
    out = io.StringIO(f"loading wdbc\n{LISTENING} 127.0.0.1:40123 (models: wdbc)\nlater\n")
    assert listening_address(out) == "127.0.0.1:40123"
    assert out.readline() == "later\n"  # nothing past the announcement is consumed


def test_a_server_that_ends_before_listening_gives_none():
    assert listening_address(io.StringIO("Traceback (most recent call last):\n")) is None
