"""``python -m yuqing.text.proofread FILE``: the same as ``yuqing proofread FILE``."""

import sys

from .cli import proofread_main

sys.exit(proofread_main(sys.argv[1:]))
