"""``python -m export CHECKPOINT OUTPUT [--variant ...]``."""

from export.cli import main

raise SystemExit(main())
