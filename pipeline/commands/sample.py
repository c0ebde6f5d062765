"""Write one split of the synthetic sample to a parquet file.

    python -m pipeline.commands.sample OUT.parquet --rows 1000 --seed 0

The generator is :mod:`pipeline.lib.synthetic_sample` (what ``data.source: sample`` reads).
"""

from __future__ import annotations

import argparse

from pipeline.lib.io import write_parquet
from pipeline.lib.synthetic_sample import generate_split


def main() -> None:
    """Write one synthetic split to a parquet file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="parquet file to write")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_parquet(generate_split(args.rows, args.seed), args.out)


if __name__ == "__main__":
    main()
