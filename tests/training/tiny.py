"""Settings for tests that train: one layer, short texts, a small stratified BBC slice."""

from __future__ import annotations

TINY: dict = {
    "limit": 120,
    "num_hidden_layers": 1,
    "max_length": 32,
    "head_tokens": 24,
    "epochs": 2.0,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "freeze_embeddings": True,
    "baseline": False,
    # the articles alone: three times fewer examples to fine-tune on (the default's short views
    # are trained end to end in tests/training/test_hybrid.py and test_views.py)
    "train_short_views": False,
}
