#!/usr/bin/env python
"""descend against NumPy, scikit-learn, PyTorch and the memory-bandwidth floor, in one run.

    python bench/compare.py --quick                     # under a minute on two cores
    python bench/compare.py --json results.json --markdown results.md --plot epochs.png

The same as ``descend bench`` (its options: ``--help``); the code is ``descend.benchmarks``, so
that the installed command needs no checkout. ``bench/kernels.py`` and ``bench/epoch.py`` go
deeper into the kernels and into one epoch.
"""

import sys

from descend.benchmarks import main

if __name__ == "__main__":
    sys.exit(main())
