#!/usr/bin/env python3
"""Codec benchmark from a source checkout; the same as ``fixengine bench codec``.

python bench/codec.py [--json] [--seconds S] [--runs N] [--quick]
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from fixengine.bench.codec import main

if __name__ == "__main__":
    sys.exit(main())
