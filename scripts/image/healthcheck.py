"""Container HEALTHCHECK: GET /healthz on the port the service is configured with.

Copied into the image as /app/healthcheck.py and run in exec form (no shell). It reads
NEWSCLF_METRICS_PORT (default 8000) and NEWSCLF_METRICS_HOST (a wildcard bind is probed on
loopback), so a changed port does not turn every container unhealthy. Exit 0 healthy, 1 not.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    host = os.environ.get("NEWSCLF_METRICS_HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = os.environ.get("NEWSCLF_METRICS_PORT", "8000")
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (fixed scheme)
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"healthcheck: {url}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
