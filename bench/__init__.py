"""winepipe's benchmark: ``make bench SCALE=1`` (``python -m bench --scale 1``), see bench/README.md.

Measures, in one run on one machine and on the same generated batch, the pipeline end to end (cold and no-op),
each stage against its floor, and two baselines that do the whole job (bench/baselines/), then writes
bench/RESULTS.md and bench/results.json.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
