import sys

from consumer.redrive.cli import main

sys.exit(main())
