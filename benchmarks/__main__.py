"""`python -m benchmarks [--quick]`: run the matrix and print the markdown report."""

import sys

from benchmarks.harness import main

sys.exit(main())
