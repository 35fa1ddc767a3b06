"""Rebuild dhs_4celltypes_200bp.tsv.gz from the MIT-licensed dnadiffusion wheel on PyPI.

    python datasets/dhs/prepare.py [--out datasets/dhs/dhs_4celltypes_200bp.tsv.gz]

Downloads the wheel with `pip download --no-deps` (never installs it: it pins an old torch), reads
dnadiffusion/data/K562_hESCT0_HepG2_GM12878_12k_sequences_per_group.txt, checks its sha256, keeps
nine columns with short names and writes a gzip TSV. The split follows the source's data_label
(training / validation / test), which is chr2 for validation and chr1 for test.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

SOURCE = "dnadiffusion/data/K562_hESCT0_HepG2_GM12878_12k_sequences_per_group.txt"
SOURCE_SHA256 = "ba1063a9a3d0054020ae2e9f8add974550ae91fe2d21989e790e5d6cb2cb4d58"
CELL_TYPES = {
    "HepG2_ENCLB029COU": "HepG2",
    "K562_ENCLB843GMH": "K562",
    "GM12878_ENCLB441ZZZ": "GM12878",
    "hESCT0_ENCLB449ZZZ": "hESC",
}
SPLITS = {"training": "train", "validation": "valid", "test": "test"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("dhs_4celltypes_200bp.tsv.gz"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder, "dnadiffusion==0.0.0.dev0"], check=True
        )
        wheel = next(Path(folder).glob("dnadiffusion-*.whl"))
        raw = zipfile.ZipFile(wheel).read(SOURCE)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        sys.exit(f"{SOURCE}: sha256 {digest} differs from the expected {SOURCE_SHA256}")
    table = pd.read_csv(pd.io.common.BytesIO(raw), sep="\t")
    out = pd.DataFrame(
        {
            "dhs_id": table["dhs_id"],
            "chrom": table["chr"],
            "start": table["start"],
            "end": table["end"],
            "summit": table["summit"],
            "total_signal": table["total_signal"],
            "cell_type": table["TAG"].map(CELL_TYPES),
            "split": table["data_label"].map(SPLITS),
            "sequence": table["sequence"].str.upper(),
        }
    )
    if out.isna().any().any():
        sys.exit("unexpected TAG or data_label values in the source table")
    args.out.write_bytes(gzip.compress(out.to_csv(sep="\t", index=False).encode(), mtime=0))
    print(f"wrote {len(out)} rows to {args.out}")


if __name__ == "__main__":
    main()
