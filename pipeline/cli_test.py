"""`bcpipe run --splits`: three positive integers, or a usage error (exit 2)."""

import pytest

from pipeline.cli import build_parser


def test_splits_are_read_as_train_eval_test_proportions():
    args = build_parser().parse_args(["run", "idc", "--splits", "6,2,2"])
    assert args.splits == (6, 2, 2)
    assert build_parser().parse_args(["run", "wdbc"]).splits is None


@pytest.mark.parametrize("value", ["6,2", "6,2,2,1", "6,0,2", "6,-1,2", "a,b,c", "6.5,2,2", ""])
def test_anything_but_three_positive_integers_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "idc", "--splits", value])
    assert exit_.value.code == 2
    assert "three positive integers for train, eval and test" in capsys.readouterr().err
