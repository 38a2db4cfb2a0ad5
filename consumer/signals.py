"""Signals before the service is up."""

from __future__ import annotations

import signal
import threading


def hold_sighup() -> None:
    """SIGHUP reloads the model once the service is up (``Service.install_signal_handlers``);
    until then it must not end the process, its default action."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
