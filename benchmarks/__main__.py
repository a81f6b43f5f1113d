import sys

from vetgrad.benchmarks.report import main

sys.exit(main())
