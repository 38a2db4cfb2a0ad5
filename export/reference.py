"""The drift reference: the exported model's own predictions on the checkpoint's test split,
calibrated as the service will serve them (:mod:`newsclf.drift`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from export.checkpoint import TOKENIZER_JSON, Checkpoint
from export.errors import ExportError
from export.parity import BATCH_SIZE, feed_batches, load_parity_data, onnx_session
from newsclf.calibration import softmax
from newsclf.drift import Reference
from newsclf.textprep import encode_batch, prepare_tokenizer

log = logging.getLogger(__name__)

ALL_ROWS = 1 << 30


def test_split_reference(
    checkpoint: Checkpoint, model: Path, provider: str | None
) -> Reference | None:
    """Run ``model`` over every article of the checkpoint's ``heldout.jsonl`` (its test
    split); None when the checkpoint has none (the service then exports no drift metrics)."""
    from tokenizers import Tokenizer

    heldout = checkpoint.heldout
    if heldout is None:
        log.warning("export.reference skipped: %s has no heldout.jsonl", checkpoint.path)
        return None
    started = time.perf_counter()
    data = load_parity_data(heldout, ALL_ROWS)
    tokenizer = prepare_tokenizer(Tokenizer.from_file(str(checkpoint.path / TOKENIZER_JSON)))
    ids = encode_batch(tokenizer, data.texts, checkpoint.preprocessing)
    session = onnx_session(model, provider)
    inputs = [i.name for i in session.get_inputs()]
    try:
        logits = np.concatenate(
            [
                np.asarray(session.run(["logits"], b)[0], dtype=np.float32)
                for b in feed_batches(ids, checkpoint.preprocessing, inputs, BATCH_SIZE)
            ]
        )
    except Exception as exc:  # onnxruntime raises its own runtime error types
        raise ExportError(f"ONNX Runtime failed on the test split: {exc}") from exc
    scores = checkpoint.served_scores(logits, data.texts)
    probs = softmax(scores, checkpoint.temperature)  # as the service computes it
    reference = Reference.from_predictions(probs, checkpoint.labels, "test", data.labels)
    log.info(
        "export.reference articles=%d accuracy=%s seconds=%.2f",
        reference.n,
        reference.accuracy,
        time.perf_counter() - started,
    )
    return reference
