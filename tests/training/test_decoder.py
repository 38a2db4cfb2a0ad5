"""GPT-2-family path: a tiny decoder built offline gets a pad token, trains, and pads right."""

from __future__ import annotations

import json

import numpy as np
import pytest

from newsclf.textprep import Preprocessing
from tests.training.tiny import TINY
from training.config import TrainConfig
from training.data import load_dataset
from training.pipeline import run_training

pytestmark = pytest.mark.slow

EOS = "<|endoftext|>"


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    """A 1-layer GPT-2 with a byte-level BPE tokenizer trained on the corpus: no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, GPT2TokenizerFast

    texts = load_dataset().texts[:300]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=500,
            special_tokens=[EOS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token=EOS, eos_token=EOS, unk_token=EOS)
    assert tokenizer.pad_token is None
    eos_id = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    directory = tmp_path_factory.mktemp("tiny-gpt2")
    GPT2Model(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory, eos_id


@pytest.fixture(scope="module")
def gpt2_checkpoint(tiny_gpt2, tmp_path_factory):
    model_dir, _ = tiny_gpt2
    out = tmp_path_factory.mktemp("gpt2-ckpt")
    settings = {**TINY, "num_hidden_layers": None, "freeze_embeddings": False}
    run_training(TrainConfig(**settings, model=str(model_dir), output=str(out)))
    return out


def test_max_length_beyond_the_models_positions_is_refused(tiny_gpt2, tmp_path):
    from training.errors import TrainingError

    model_dir, _ = tiny_gpt2
    config = TrainConfig(**{**TINY, "max_length": 256, "head_tokens": 128}, model=str(model_dir))
    with pytest.raises(TrainingError, match="exceeds"):
        run_training(config.replace(output=str(tmp_path / "o")))


def test_pad_token_is_eos_everywhere(tiny_gpt2, gpt2_checkpoint):
    _, eos_id = tiny_gpt2
    config = json.loads((gpt2_checkpoint / "config.json").read_text())
    assert config["model_type"] == "gpt2"
    assert config["pad_token_id"] == eos_id
    assert Preprocessing.load(gpt2_checkpoint).pad_token_id == eos_id
    tok_config = json.loads((gpt2_checkpoint / "tokenizer_config.json").read_text())
    assert tok_config["pad_token"] == EOS
    report = json.loads((gpt2_checkpoint / "eval_report.json").read_text())
    assert report["history"] and np.isfinite(report["history"][-1]["eval_loss"])


def test_padding_does_not_change_an_examples_logits(gpt2_checkpoint):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.train import encode, predict_logits

    model = AutoModelForSequenceClassification.from_pretrained(gpt2_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(gpt2_checkpoint)
    assert tokenizer.padding_side == "right"
    prep = Preprocessing.load(gpt2_checkpoint)
    short = "Shares rose sharply in London."
    long = "The government announced a new budget for schools and hospitals. " * 4
    ids = encode(tokenizer, [short, long], prep)
    assert len(ids[0]) < len(ids[1])  # so the short one is padded in the batch
    alone = predict_logits(model, tokenizer, [short], prep)
    batched = predict_logits(model, tokenizer, [short, long], prep, batch_size=2)
    np.testing.assert_allclose(batched[0], alone[0], atol=1e-5)
    np.testing.assert_allclose(
        batched[1], predict_logits(model, tokenizer, [long], prep)[0], atol=1e-5
    )
