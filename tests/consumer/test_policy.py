import numpy as np
import pytest

from consumer.errors import ExitCode, FatalError
from consumer.pipeline import Classified
from consumer.policy import MachineFault, is_machine_fault, isolate, retrying


def classifier(bad: set[str], calls: list[int]):
    def classify(texts):
        calls.append(len(texts))
        if bad & set(texts):
            raise ValueError("cannot tokenize")
        return Classified(np.ones((len(texts), 2), dtype=np.float32), padded_tokens=len(texts))

    return classify


def test_bisection_finds_exactly_the_failing_rows():
    texts = [f"t{i}" for i in range(16)]
    calls: list[int] = []
    out = isolate(classifier({"t3", "t11"}, calls), texts, probe=lambda: None, n_labels=2)
    assert sorted(out.failed) == [3, 11]
    assert out.probs.shape == (16, 2)
    assert (
        np.isnan(out.probs[[3, 11]]).all() and not np.isnan(np.delete(out.probs, [3, 11], 0)).any()
    )
    assert len(calls) < 16 + 8, "bisecting, not one call per row"


def test_a_failing_probe_blames_the_machine_not_the_record():
    def probe():
        raise RuntimeError("session is gone")

    with pytest.raises(MachineFault, match="probe failed"):
        isolate(classifier({"t0"}, []), ["t0"], probe=probe, n_labels=2)


@pytest.mark.parametrize(
    ("exc", "machine"),
    [
        (MemoryError(), True),
        (RuntimeError("CUDA error: out of memory"), True),
        (
            RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory"),
            True,
        ),
        (TypeError("TextEncodeInput must be Union[TextInputSequence, ...]"), False),
        (ValueError("model returned shape (3, 4) for 4 rows"), False),
    ],
)
def test_machine_faults_are_told_apart(exc, machine):
    assert is_machine_fault(exc) is machine


def test_retrying_backs_off_then_gives_up_with_exit_code_4():
    now = [0.0]
    waits: list[float] = []

    def sleep(s):
        waits.append(s)
        now[0] += s

    def attempt():
        raise MachineFault("device lost")

    with pytest.raises(FatalError) as failed:
        retrying(attempt, 10.0, sleep=sleep, clock=lambda: now[0])
    assert failed.value.code == ExitCode.INFERENCE
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0] and sum(waits) == pytest.approx(10.0)


def test_retrying_returns_once_the_machine_recovers():
    tries = iter([MachineFault("busy"), MachineFault("busy"), None])

    def attempt():
        exc = next(tries)
        if exc:
            raise exc
        return "ok"

    assert retrying(attempt, 60, sleep=lambda s: None) == "ok"
