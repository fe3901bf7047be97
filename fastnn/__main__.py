"""``python -m fastnn``: the fastnn command line."""
import sys

from fastnn.cli import main

sys.exit(main())
