"""The train command's options are generated from TrainConfig: every field once, typed and bounded as the config."""

import argparse
import dataclasses

import pytest

from fakelens.training.config import TrainConfig
from fakelens.utils.options import add_config_options


def _parser():
    p = argparse.ArgumentParser(exit_on_error=False)
    add_config_options(p, TrainConfig, skip=("world_size",), flags={"distill_sources": "--distill-source"})
    return p


def test_every_field_but_the_trainers_own_is_an_option():
    options = {a.dest for a in _parser()._actions if a.dest != "help"}
    assert options == {f.name for f in dataclasses.fields(TrainConfig)} - {"world_size"}


def test_options_parse_into_the_config_the_yaml_would_give():
    args = _parser().parse_args(
        [
            "--data",
            "a",
            "--data",
            "b.yaml",
            "--epochs",
            "3",
            "--lr",
            "1e-4",
            "--no-pretrained",
            "--split-method",
            "shuffle",
            "--distill-source",
            "dfdc",
            "--distill-source",
            "lfw",
        ]
    )
    given = {k: v for k, v in vars(args).items() if v is not None}
    cfg = TrainConfig.from_dict(given)
    assert cfg == TrainConfig.from_dict(
        {
            "data": ["a", "b.yaml"],
            "epochs": 3,
            "lr": 1e-4,
            "pretrained": False,
            "split_method": "shuffle",
            "distill_sources": ["dfdc", "lfw"],
        }
    )
    assert cfg.batch_size == 32  # not given: the config's own default


def test_not_given_is_none_so_a_config_file_value_stands():
    assert all(v is None for v in vars(_parser().parse_args([])).values())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "0"], "must be at least 1"),
        (["--val-fraction", "1"], "must be less than 1"),
        (["--distill-weight", "1.5"], "must be at most 1"),
        (["--epochs", "two"], "is not a whole number"),
        (["--split-method", "random"], "invalid choice"),
    ],
)
def test_bounds_and_types_are_usage_errors(argv, message):
    with pytest.raises(argparse.ArgumentError, match=message):
        _parser().parse_args(argv)
