"""Dead-letter redrive: send dead letters back to the topic they came from, once the cause is
fixed (a size limit raised, a model that no longer fails on them).

Each dead letter holds the original value and key (``consumer.schemas.dead_letter_value``). A
redrive reads the dead-letter topic under its own consumer group, selects dead letters by error
class, time or offset range, and re-produces each original to its source topic (or another)
with provenance headers: the dead letter's topic, partition and offset, its error, and the
redrive count. The service copies those headers onto a new dead letter for the same article,
so an article redriven ``max_redrives`` times is skipped (and counted) instead of looping.

Progress is committed after every polled batch is acknowledged: a second run with the same
selection resends nothing the first one read; a run killed between a send and its commit
resends at most that batch (at-least-once, as the service itself). The group is named after
the selection, so a later run for another error class still finds its dead letters.
"""

from __future__ import annotations

from consumer.redrive.plan import SKIP_REASONS, Plan, RedriveReport, Selection, apply, plan
from consumer.redrive.run import run

__all__ = ["SKIP_REASONS", "Plan", "RedriveReport", "Selection", "apply", "plan", "run"]
