"""What every ``python -m`` entry point shares: a failure is one readable line on stderr and an
exit code, never a traceback; logging is :mod:`newsclf.logs`.

A command's typed function raises :class:`CliError` (or an error the command names as known);
:func:`guard` turns it into ``error: <message>`` (``<prog>: error: <message>`` when ``prog`` is
given, as argparse writes usage errors) and its code. Ctrl-C is exit 130 with one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the user can act on: ``message`` is the line they read, ``code`` the exit."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int = EXIT_FAILED, *, prog: str | None = None) -> int:
    """Write the one line and return ``code`` (``return fail(...)`` in a ``main``)."""
    first = message.strip() or "failed"
    sys.stderr.write(f"{prog + ': ' if prog else ''}error: {first}\n")
    return code


def guard(
    body: Callable[[], int],
    *,
    prog: str | None = None,
    known: tuple[type[BaseException], ...] = (),
    known_code: int = EXIT_FAILED,
    interrupted: str = "interrupted",
) -> int:
    """Run a command's body: :class:`CliError` and the ``known`` errors become one line and an
    exit code; anything else is a bug and keeps its traceback."""
    try:
        return body()
    except CliError as exc:
        return fail(exc.message, exc.code, prog=prog)
    except KeyboardInterrupt:
        return fail(interrupted, EXIT_INTERRUPTED, prog=prog)
    except known as exc:
        return fail(str(exc), known_code, prog=prog)
