"""`huracan features` as a whole process against a polars + TA-Lib script computing the same 45
columns of the `full` recipe: each reads the same Parquet file of OHLCV bars and writes a Parquet
file, timed from the outside (interpreter start, imports, reading, checks, computing, writing).
Target: huracan <= 2x the script (issue 13); printed, never asserted.

The script's indicators are bench_features.py's TA-Lib side (one talib call per indicator, numpy
for what TA-Lib lacks); it checks nothing of its input, where `huracan features` validates the
file (timestamps, OHLC sanity, duplicates) before computing.

Data: the long series of bench_pipeline.py (real EUR/USD bar shapes chained), as minute bars so
that 2,000,000 of them (the default) end in the past. Best of --repeats runs of each.

Run: .venv/bin/python -m benchmarks.bench_features_cli [--bars 2000000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER = """
import sys
import polars as pl
import talib
sys.path.insert(0, {root!r})
from benchmarks.bench_features import run_talib
frame = pl.read_parquet(sys.argv[1])
run_talib(frame).write_parquet(sys.argv[2])
"""


def timed(command: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from benchmarks.bench_pipeline import long_series

    root = str(Path(__file__).resolve().parents[1])
    huracan = str(Path(sys.executable).with_name("huracan"))
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "bars.parquet"
        long_series(args.bars, every="1m").write_parquet(data)  # minutes: 2M bars end in the past
        peer = Path(folder) / "peer.py"
        peer.write_text(PEER.format(root=root))
        ours = timed(
            [
                huracan,
                "features",
                "--data",
                str(data),
                "--recipe",
                "full",
                "--output",
                str(Path(folder) / "ours.parquet"),
            ],
            args.repeats,
        )
        theirs = timed(
            [sys.executable, str(peer), str(data), str(Path(folder) / "theirs.parquet")], args.repeats
        )
    print(f"{args.bars:,} bars, full recipe (45 columns), whole process, best of {args.repeats}:")
    print(f"  huracan features          {ours:7.2f} s")
    print(f"  polars + TA-Lib script    {theirs:7.2f} s")
    print(f"  ratio huracan / script    {ours / theirs:7.2f}x   (target <= 2x)")


if __name__ == "__main__":
    main()
