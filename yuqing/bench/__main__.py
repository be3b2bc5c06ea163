"""``python -m yuqing.bench``."""

import sys

from yuqing.bench import main

sys.exit(main())
