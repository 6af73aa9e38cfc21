"""``python -m bench --scale 1 [--repeat 3] [--only ...] [--out DIR]``: see bench/README.md."""
import sys

from bench.harness import main

if __name__ == "__main__":
    sys.exit(main())
