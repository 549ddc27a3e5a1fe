#!/usr/bin/env python3
"""Round-trip benchmark from a source checkout; the same as ``fixengine bench roundtrip``.

python bench/roundtrip.py [--scenarios ...] [--modes one,window,rate] [--pin both|no|yes]
                          [--orders N] [--runs R] [--json] [--plot FILE] [--quick]
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from fixengine.bench.roundtrip import main

if __name__ == "__main__":
    sys.exit(main())
