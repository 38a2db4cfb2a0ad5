"""The long fault drills behind ``make chaos``: several ``python -m consumer`` processes on an
Apache Kafka instance of their own, real articles, faults injected while they work, and for
each drill: in, out, lost, duplicated, time to recover.

A :class:`Drill` supervises its members like an orchestrator (a member that exits on its own is
restarted after ``RESTART_DELAY_S`` and the exit is counted), tails the output and dead-letter
topics (``read_committed``), and records every fault as a :class:`Fault`. Time to recover is
measured from the fault's start to the moment the first output sent after the fault ended, of
every partition the fault affected, reached the drill's ``read_committed`` reader (so a
transaction left open by a killed member counts: outputs behind it are not readable until it
ends).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.harness import (
    Ledger,
    ServiceProcess,
    Tail,
    holdings,
    parse_json,
    service_env,
)
from tests.fixtures.kafka import make_topic, unique_name

REPO = Path(__file__).resolve().parents[2]
RESTART_DELAY_S = 1.0


def now_ms() -> int:
    return int(time.time() * 1000)


def kafka_sh(command: str, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    """``bash scripts/kafka.sh COMMAND`` for the drill broker's port."""
    import os

    return subprocess.run(
        ["bash", str(REPO / "scripts" / "kafka.sh"), command],
        cwd=REPO,
        env={**os.environ, "KAFKA_PORT": str(port), **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


@dataclass
class Fault:
    kind: str
    start_ms: int
    end_ms: int
    partitions: set[int]
    detail: str = ""


@dataclass
class DrillResult:
    drill: str
    delivery: str
    members: int
    inputs: int
    out: int
    lost: int
    duplicated: int
    duplicate_bound: int | None
    faults: list[str]
    recover_s: list[float | None]
    seconds: float
    exits: list[str]
    notes: list[str] = field(default_factory=list)
    lost_sample: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset)

    @property
    def recover_max_s(self) -> float | None:
        known = [r for r in self.recover_s if r is not None]
        if len(known) != len(self.recover_s):
            return None
        return max(known) if known else None

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["recover_max_s"] = self.recover_max_s
        return body


class Drill:
    """One drill: members, tails, a ledger, faults."""

    def __init__(
        self,
        name: str,
        *,
        bootstrap: str,
        model_dir: Path,
        input_topic: str,
        ledger: Ledger,
        partitions: int,
        log_dir: Path,
        members: int = 3,
        delivery: str = "at-least-once",
        batch_records: int = 64,
        deadline_s: float = 600,
        **settings: str | int | float,
    ) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.ledger = ledger
        self.partitions = partitions
        self.delivery = delivery
        self.batch_records = batch_records
        self.deadline = time.monotonic() + deadline_s
        self.started = time.monotonic()
        self.group = unique_name(f"chaos-{name}")
        self.output_topic = make_topic(bootstrap, 1, prefix=f"chaos-{name}-out")
        self.dlq_topic = make_topic(bootstrap, 1, prefix=f"chaos-{name}-dlq")
        self.env = service_env(
            bootstrap,
            model_dir,
            input_topic=input_topic,
            output_topic=self.output_topic,
            dlq_topic=self.dlq_topic,
            group_id=self.group,
            batch_records=batch_records,
            delivery=delivery,
            **settings,
        )
        self.log_dir = log_dir / name
        self.members = [self.member(f"{name}-m{i}") for i in range(members)]
        self.extras: list[ServiceProcess] = []
        self.out = Tail(bootstrap, self.output_topic, "read_committed")
        self.dlq = Tail(bootstrap, self.dlq_topic, "read_committed")
        # (send timestamp ms, arrival ms, source partition, classified-by) of every output
        self.seen: list[tuple[int, int, int, str]] = []
        self.faults: list[Fault] = []
        self.exits: list[str] = []
        self.notes: list[str] = []
        self._restart_at: dict[str, float] = {}
        self._leaving: set[str] = set()
        self._supervise = True

    # -------------------------------------------------------------------- members
    def member(self, name: str) -> ServiceProcess:
        return ServiceProcess(name, self.env, self.log_dir)

    @property
    def everyone(self) -> list[ServiceProcess]:
        return self.members + self.extras

    def start(self) -> Drill:
        for m in self.members:
            m.start()
        return self

    def join(self, m: ServiceProcess) -> None:
        """Start ``m`` (a new member: the group rebalances)."""
        if m not in self.everyone:
            self.extras.append(m)
        m.start()

    def leave(self, m: ServiceProcess) -> None:
        """SIGTERM ``m`` (it drains and leaves the group: a rebalance); not restarted."""
        if m.alive:
            self._leaving.add(m.name)
            m.signal(signal.SIGTERM)

    def holdings(self) -> dict[str, set[int]]:
        return holdings(self.bootstrap, self.group, self.everyone)

    # -------------------------------------------------------------------- the loop
    def tick(self, poll_ms: int = 100) -> list[Any]:
        new = self.out.poll(poll_ms)
        arrived = now_ms()
        self.ledger.add_outputs(new)
        for r in new:
            body = parse_json(r.value) or {}
            src = body.get("source") or {}
            by = dict(r.headers or []).get("classified-by", b"").decode(errors="replace")
            if "partition" in src:
                self.seen.append((r.timestamp, arrived, int(src["partition"]), by))
        self.ledger.add_dead_letters(self.dlq.poll(0))
        if not self._supervise:
            return new
        for m in self.everyone:
            code = m.reap()
            if code is None:
                continue
            if m.name in self._leaving:  # asked to leave (SIGTERM): not a crash
                self._leaving.discard(m.name)
                m.exits.pop()
                if code == -signal.SIGTERM:
                    self.notes.append(f"{m.name} died of SIGTERM (still starting up)")
                elif code != 0:
                    self.exits.append(f"{m.name}: exit {code} on SIGTERM")
                continue
            self.exits.append(f"{m.name}: exit {code} at {self.elapsed():.0f}s")
            self._restart_at[m.name] = time.monotonic() + RESTART_DELAY_S
        for m in self.everyone:
            at = self._restart_at.get(m.name)
            if at is not None and time.monotonic() >= at and not m.alive:
                del self._restart_at[m.name]
                m.start()
        return new

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def done_fraction(self) -> float:
        return self.ledger.out / max(len(self.ledger.inputs), 1)

    def run_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        end = self.deadline if timeout is None else min(self.deadline, time.monotonic() + timeout)
        while time.monotonic() < end:
            self.tick()
            if predicate():
                return True
        return False

    def wait_done_fraction(self, fraction: float) -> bool:
        return self.run_until(lambda: self.done_fraction() >= fraction)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick(50)

    # -------------------------------------------------------------------- faults
    def fault(
        self, kind: str, start_ms: int, partitions: Sequence[int] | None, detail: str = ""
    ) -> Fault:
        f = Fault(kind, start_ms, now_ms(), set(partitions or range(self.partitions)), detail)
        self.faults.append(f)
        return f

    def kill9_after_output(
        self, victim: ServiceProcess, delay_s: float = 0.0, timeout: float = 60
    ) -> Fault | None:
        """SIGKILL ``victim`` right after (or ``delay_s`` after) one of its outputs shows up in
        the output topic: at-least-once, that output is acknowledged and its offset most likely
        not committed yet; exactly-once, a delay lands the kill inside the next transaction."""
        held = self.holdings().get(victim.name) or set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self.tick(20)
            if any(
                dict(r.headers or []).get("classified-by", b"").decode() == victim.name for r in new
            ):
                if delay_s:
                    self.sleep(delay_s)
                start = now_ms()
                victim.kill9()
                f = self.fault("kill -9", start, sorted(held), f"{victim.name} held {sorted(held)}")
                self._restart_at[victim.name] = time.monotonic() + RESTART_DELAY_S
                return f
        self.notes.append(f"{victim.name} produced nothing for {timeout:.0f} s: not killed")
        return None

    # -------------------------------------------------------------------- the end
    def finish(self, settle_s: float = 3.0, quiet_s: float = 90.0) -> DrillResult:
        """Wait until every input is accounted for (or the deadline, or ``quiet_s`` without a
        new output or dead letter), let late duplicates arrive, stop everyone, and compute the
        figures."""
        progress = {"out": self.ledger.out, "at": time.monotonic()}

        def settled() -> bool:
            if not self.ledger.lost:
                return True
            if self.ledger.out != progress["out"]:
                progress.update(out=self.ledger.out, at=time.monotonic())
            return time.monotonic() - progress["at"] > quiet_s

        self.run_until(settled)
        if self.ledger.lost:
            self.notes.append(
                f"gave up waiting: {len(self.ledger.lost)} inputs without an output or a dead "
                f"letter ({quiet_s:.0f} s without progress, or the deadline)"
            )
        self.sleep(settle_s)
        self._supervise = False
        procs = [m for m in self.everyone if m.alive]
        for m in procs:
            m.signal(signal.SIGTERM)
        for m in procs:
            code = m.wait_exit(timeout=60)
            if code not in (0, None):
                self.exits.append(f"{m.name}: exit {code} on SIGTERM")
        self.sleep(0.5)
        self.out.close()
        self.dlq.close()
        return self.result()

    def recover_times(self) -> list[float | None]:
        times: list[float | None] = []
        seen = sorted(self.seen)
        for f in self.faults:
            worst: float | None = None  # None: no affected partition had work left
            for p in f.partitions:
                # sent after the fault ended (not one of the victim's last, still in transit),
                # measured when the reader got it
                after = [at for ts, at, part, _ in seen if part == p and ts > f.end_ms]
                if after:
                    worst = max(worst or 0.0, (min(after) - f.start_ms) / 1000)
            times.append(None if worst is None else round(worst, 1))
        return times

    def duplicate_bound(self) -> int | None:
        if self.delivery == "exactly-once":
            return 0
        kills = sum(1 for f in self.faults if f.kind == "kill -9")
        crashes = len([e for e in self.exits if "SIGTERM" not in e])
        # one batch per partition per kill (or crash), and one per partition for whatever
        # else restarts a member's work (a broker restart, a stall, a rebalance)
        events = kills + crashes + sum(1 for f in self.faults if f.kind != "kill -9")
        return self.batch_records * self.partitions * max(events, 1)

    def result(self) -> DrillResult:
        s = self.ledger.summary()
        return DrillResult(
            drill=self.name,
            delivery=self.delivery,
            members=len(self.members),
            inputs=s["in"],
            out=s["out"],
            lost=s["lost"],
            duplicated=s["duplicated"],
            duplicate_bound=self.duplicate_bound(),
            faults=[f"{f.kind} {f.detail}".strip() for f in self.faults],
            recover_s=self.recover_times(),
            seconds=round(self.elapsed(), 1),
            exits=self.exits,
            notes=self.notes,
            lost_sample=self.ledger.lost[:50],
        )

    def kill_everything(self) -> None:
        for m in self.everyone:
            m.kill9()


# ------------------------------------------------------------------------ the report


def markdown_table(results: Sequence[DrillResult]) -> str:
    lines = [
        "| drill | delivery | members | in | out | lost | duplicated (bound) "
        "| time to recover | exits | wall time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = ", ".join("n/a" if t is None else f"{t:.1f} s" for t in r.recover_s) or "n/a"
        bound = "" if r.duplicate_bound is None else f" (≤ {r.duplicate_bound})"
        lines.append(
            f"| {r.drill} | {r.delivery} | {r.members} | {r.inputs:,} | {r.out:,} | **{r.lost}** "
            f"| {r.duplicated}{bound} | {rec} | {len(r.exits)} | {r.seconds:.0f} s |"
        )
    notes = [f"- **{r.drill}**: {'; '.join(r.faults + r.notes + r.exits)}" for r in results]
    return "\n".join(lines + [""] + notes) + "\n"


def write_report(results: Sequence[DrillResult], out_dir: Path, context: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "reliability.json").write_text(
        json.dumps({"context": context, "drills": [r.as_json() for r in results]}, indent=2) + "\n"
    )
    (out_dir / "reliability.md").write_text(markdown_table(results))
