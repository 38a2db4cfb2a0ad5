"""TrainConfig: JSON round trip, strict keys and types, flags over the config file."""

from __future__ import annotations

import json

import pytest

from training.cli import build_parser, config_from_args
from training.config import TrainConfig
from training.errors import TrainingError


def test_round_trip_through_json(tmp_path):
    config = TrainConfig(epochs=3, learning_rate=2e-4, limit=100, search_batch_sizes=[8])
    path = config.save(tmp_path)
    assert TrainConfig.load(path) == config


def test_ints_are_accepted_for_floats():
    assert TrainConfig.from_dict({"epochs": 3, "learning_rate": 1}).epochs == 3.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"epoch": 3}, "unknown key"),
        ({"epochs": "3"}, "epochs must be a number"),
        ({"batch_size": 1.5}, "batch_size must be an integer"),
        ({"resume": "yes"}, "resume must be true or false"),
        ({"search_learning_rates": [1e-4, "x"]}, "list of numbers"),
        ({"head_tokens": 300, "max_length": 256}, "head_tokens must be between"),
        ({"val_fraction": 0.5, "test_fraction": 0.45}, "at least 10% for training"),
        ({"lr_scheduler": "exotic"}, "lr_scheduler must be one of"),
        ({"epochs": 0}, "epochs must be positive"),
        ({"repeats": 2.0}, "repeats must be an integer"),
        ({"review_target_accuracy": "high"}, "review_target_accuracy must be a number"),
        ({"review_target_accuracy": 0.0}, r"review_target_accuracy must be in \(0, 1\]"),
        ({"limit": True}, "limit must be an integer"),  # strict: a bool is not a number
        ({"search_batch_sizes": [16, 2.5]}, "search_batch_sizes must be a list of integers"),
        ({"seed": None}, "seed"),
        ({"epoch": 3, "lr": 1}, "unknown key.*epoch, lr"),
    ],
)
def test_bad_values_are_training_errors(raw, message):
    with pytest.raises(TrainingError, match=message):
        TrainConfig.from_dict(raw)


def test_training_windows_are_capped_and_keep_the_head_share():
    assert TrainConfig().train_lengths() == (256, 192)  # serving 512/384: head is 3/4
    assert TrainConfig(train_max_length=128).train_lengths() == (128, 96)
    assert TrainConfig(max_length=64, head_tokens=48).train_lengths() == (64, 48)  # capped
    assert TrainConfig(train_max_length=None).train_lengths() == (512, 384)
    assert TrainConfig(train_max_length=100, train_head_tokens=10).train_lengths() == (100, 10)
    with pytest.raises(TrainingError, match="train_head_tokens"):
        TrainConfig(train_max_length=64, train_head_tokens=65)


def test_non_object_json_is_rejected(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(TrainingError, match="expected a JSON object"):
        TrainConfig.load(path)


def test_flags_override_the_file_and_unset_flags_do_not(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 5, "learning_rate": 3e-5, "limit": 400, "seed": 7}))
    args = build_parser().parse_args(
        ["--config", str(path), "--epochs", "1", "--lr", "2e-4", "--no-group-by-length"]
    )
    config = config_from_args(args)
    assert config.epochs == 1.0 and config.learning_rate == 2e-4  # flags win
    assert config.limit == 400 and config.seed == 7  # the file's values stay
    assert config.group_by_length is False
    assert config.batch_size == TrainConfig().batch_size  # neither: the default


def test_search_subcommand_and_list_flags():
    args = build_parser().parse_args(["--search-learning-rates", "1e-4,2e-4", "--target-f1", "0.9"])
    config = config_from_args(args, search=True)
    assert config.search and config.search_learning_rates == [1e-4, 2e-4]
    assert config.target_f1 == 0.9


def test_committed_default_config_matches_the_dataclass_defaults():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / "default.json"
    assert TrainConfig.load(path) == TrainConfig()


def test_the_head_follows_max_length_unless_given():
    assert TrainConfig().serving_head_tokens() == 384
    assert TrainConfig(max_length=128).serving_head_tokens() == 96
    assert TrainConfig(max_length=128).train_lengths() == (128, 96)
    assert TrainConfig(max_length=128, head_tokens=128).serving_head_tokens() == 128
    assert TrainConfig(max_length=2).serving_head_tokens() == 2


def test_evaluation_flags():
    args = build_parser().parse_args(["--repeats", "5", "--review-target-accuracy", "0.95"])
    config = config_from_args(args)
    assert (config.repeats, config.review_target_accuracy) == (5, 0.95)
    assert (TrainConfig().repeats, TrainConfig().review_target_accuracy) == (1, 0.98)
    args = build_parser().parse_args(["--threshold-rule", "expected", "--max-review-share", "0.1"])
    config = config_from_args(args)
    assert (config.threshold_rule, config.max_review_share) == ("expected", 0.1)
    assert (TrainConfig().threshold_rule, TrainConfig().max_review_share) == ("empirical", 0.2)
    args = build_parser().parse_args(["--review-min-confidence", "0.8"])
    assert config_from_args(args).review_min_confidence == 0.8
    assert TrainConfig().review_min_confidence == 0.9
    args = build_parser().parse_args(["--long-branch-weight", "0.3"])
    assert config_from_args(args).long_branch_weight == 0.3
    args = build_parser().parse_args(["--long-branch-weight", "none"])
    assert config_from_args(args).long_branch_weight is None  # the per-split weight
    assert TrainConfig().long_branch_weight == 0.15  # the default recipe's
    with pytest.raises(TrainingError, match="long_branch_weight must be in"):
        TrainConfig(long_branch_weight=1.5)
    bad_values = ({"max_review_share": 1.5}, {"threshold_rule": "median"})
    for bad in (*bad_values, {"review_min_confidence": -0.1}):
        with pytest.raises(TrainingError):
            TrainConfig(**bad)


def test_direct_construction_is_validated_like_a_file_and_the_file_lists_every_field(tmp_path):
    with pytest.raises(TrainingError, match="invalid training config: epochs must be a number"):
        TrainConfig(epochs="3")
    with pytest.raises(TrainingError, match="epochs must be positive; learning_rate must be"):
        TrainConfig(epochs=0, learning_rate=0)  # every problem named in the one line
    saved = json.loads(TrainConfig().save(tmp_path).read_text())
    assert set(saved) == set(TrainConfig.model_fields)
    assert TrainConfig.from_dict(saved) == TrainConfig()


def test_split_and_augmentation_flags_reach_the_config():
    from training.cli import build_parser, config_from_args

    def config(*argv: str) -> TrainConfig:
        return config_from_args(build_parser().parse_args(list(argv)))

    assert config().near_duplicate_threshold == 0.9 and config().train_short_views
    assert not config("--no-train-short-views").train_short_views
    assert config("--near-duplicate-threshold", "none").near_duplicate_threshold is None
    assert config("--near-duplicate-threshold", "0.8").near_duplicate_threshold == 0.8
    assert config("--train-short-views").train_short_views
