"""``python -m training``: fine-tune a classifier (see ``training.cli``)."""

import sys

from training.cli import main

sys.exit(main())
