"""Size limits of the records the service writes, so every output and every dead letter fits
the producer's request limit by construction (checked against the settings at start-up)."""

from __future__ import annotations

MAX_KEY_BYTES = 4096  # a longer input key is rejected (too_large); outputs are keyed like inputs
MAX_ID_CHARS = 256
TITLE_ECHO_CHARS = 1000  # an output echoes at most this much of the title
REASON_CHARS = 1000  # a dead letter's reason is cut to this length
MAX_TOPIC_CHARS = 249  # Kafka's own limit
REDRIVE_HEADER_BYTES = 64  # each redrive provenance header value is cut to this length
REDRIVE_HEADERS_MAX = 5 * (32 + REDRIVE_HEADER_BYTES)  # the five of them, names included

# JSON escapes a character in at most 6 bytes (\uXXXX); UTF-8 needs at most 4.
_CHAR = 6
# Field names, numbers, timestamps, digests and Kafka's per-record overhead, with room to spare.
_FRAME = 2048


def b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


def dead_letter_max_bytes(embedded_value_bytes: int) -> int:
    """The largest dead-letter record (key, value, headers) that embeds up to
    ``embedded_value_bytes`` bytes of the original value."""
    value = (
        b64_len(embedded_value_bytes)
        + REASON_CHARS * _CHAR
        + MAX_TOPIC_CHARS * _CHAR
        + b64_len(MAX_KEY_BYTES)
        + _FRAME
    )
    headers = REASON_CHARS + MAX_TOPIC_CHARS + 256 + REDRIVE_HEADERS_MAX
    return MAX_KEY_BYTES + value + headers


# The largest output record: key, id, echoed title, labels and scores, source, headers.
OUTPUT_MAX_BYTES = 32_768
# What a record costs beyond its key, value and headers, record batch header included: the
# broker checks whole batches against a topic's max.message.bytes.
RECORD_FRAMING = 128


def record_bytes(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """An upper bound of the bytes a record takes in a batch of its own."""
    return (
        len(value)
        + (len(key) if key else 0)
        + sum(len(k) + len(v) for k, v in headers)
        + RECORD_FRAMING
    )


def max_embeddable(request_size: int) -> int:
    """The largest ``dlq_max_value_bytes`` whose dead letters fit ``request_size``."""
    low, high = 0, request_size
    while low < high:
        mid = (low + high + 1) // 2
        if dead_letter_max_bytes(mid) <= request_size:
            low = mid
        else:
            high = mid - 1
    return low
