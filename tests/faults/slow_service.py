"""The service on a slower machine, for the fault drills: the real ``python -m consumer``
whose every inference call first sleeps ``DRILL_INFER_DELAY_MS`` milliseconds.

The delay reaches the service through its constructor seam (``serve_one(classify=...)``), so
production code carries no drill setting. Run as a script (the harness does, with the service's
root on ``PYTHONPATH``): ``DRILL_INFER_DELAY_MS=300 python tests/faults/slow_service.py``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

DELAY_ENV = "DRILL_INFER_DELAY_MS"


def main() -> int:
    from consumer import cli, pipeline
    from consumer.signals import hold_sighup

    delay_s = int(os.environ[DELAY_ENV]) / 1000
    settings = cli.settings_or_exit()
    if isinstance(settings, int):
        return settings

    def slow_classify(*args: Any, **kwargs: Any) -> pipeline.Classified:
        time.sleep(delay_s)
        return pipeline.classify(*args, **kwargs)

    hold_sighup()
    from consumer.service import serve_one

    return serve_one(settings, classify=slow_classify)


if __name__ == "__main__":
    sys.exit(main())
