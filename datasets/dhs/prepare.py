"""Rebuild dhs_4celltypes_200bp.tsv.gz from the MIT-licensed dnadiffusion wheel on PyPI.

    python datasets/dhs/prepare.py                 # download the wheel, rebuild, verify, write
    python datasets/dhs/prepare.py --check         # rebuild and compare with the shipped file; write nothing
    python datasets/dhs/prepare.py --wheel W.whl   # use a wheel you already have (offline)

Downloads the wheel with `pip download --no-deps` (never installs it: it pins an old torch), reads
dnadiffusion/data/K562_hESCT0_HepG2_GM12878_12k_sequences_per_group.txt, checks its sha256, keeps
nine columns with short names and checks the sha256 of the resulting table's content (the TSV text
before gzip, since gzip bytes depend on the zlib build) before writing it. Source column mapping:

    dhs_id -> dhs_id, chr -> chrom, start, end, summit, total_signal (kept as is),
    TAG (HepG2_ENCLB029COU | K562_ENCLB843GMH | GM12878_ENCLB441ZZZ | hESCT0_ENCLB449ZZZ) -> cell_type,
    data_label (training | validation | test) -> split (train | valid | test), sequence -> sequence (upper case).

The source's own labels put chr2 in validation and chr1 in test; this script keeps them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

WHEEL = "dnadiffusion==0.0.0.dev0"
SOURCE = "dnadiffusion/data/K562_hESCT0_HepG2_GM12878_12k_sequences_per_group.txt"
SOURCE_SHA256 = "ba1063a9a3d0054020ae2e9f8add974550ae91fe2d21989e790e5d6cb2cb4d58"
CONTENT_SHA256 = "2ff432a8dbaadad9a7e13907bf73b3c0b5d678ca691b2a41f6190f2af6d8fa6a"  # the TSV text, before gzip
CELL_TYPES = {
    "HepG2_ENCLB029COU": "HepG2",
    "K562_ENCLB843GMH": "K562",
    "GM12878_ENCLB441ZZZ": "GM12878",
    "hESCT0_ENCLB449ZZZ": "hESC",
}
SPLITS = {"training": "train", "validation": "valid", "test": "test"}
SHIPPED = Path(__file__).with_name("dhs_4celltypes_200bp.tsv.gz")


def read_source(wheel: Path | None) -> bytes:
    """The source table's bytes, from ``wheel`` or from a freshly downloaded one; sha256-checked."""
    with tempfile.TemporaryDirectory() as folder:
        if wheel is None:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder, WHEEL]
            if subprocess.run(command).returncode != 0:
                sys.exit(f"`{' '.join(command[2:])}` failed; download {WHEEL} by hand and pass --wheel")
            wheel = next(Path(folder).glob("dnadiffusion-*.whl"))
        raw = zipfile.ZipFile(wheel).read(SOURCE)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        sys.exit(f"{SOURCE}: sha256 {digest} differs from the expected {SOURCE_SHA256}")
    return raw


def build_table(raw: bytes) -> str:
    """Source TSV bytes -> the shipped table as TSV text (header + 47,872 rows)."""
    table = pd.read_csv(io.BytesIO(raw), sep="\t")
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
    return out.to_csv(sep="\t", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED, help="where to write (default: the shipped file)")
    parser.add_argument("--wheel", type=Path, default=None, help="a downloaded dnadiffusion-0.0.0.dev0 wheel")
    parser.add_argument("--check", action="store_true", help="only compare the rebuilt content with the shipped file")
    args = parser.parse_args()
    text = build_table(read_source(args.wheel)).encode()
    digest = hashlib.sha256(text).hexdigest()
    if digest != CONTENT_SHA256:
        sys.exit(f"rebuilt table content sha256 {digest} differs from the expected {CONTENT_SHA256}")
    if args.check:
        same = gzip.decompress(SHIPPED.read_bytes()) == text
        print(f"rebuilt table content sha256 {digest}: {'identical to' if same else 'DIFFERENT from'} {SHIPPED}")
        sys.exit(0 if same else 1)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_bytes(gzip.compress(text, mtime=0))
    tmp.replace(args.out)  # atomic: a failed run never leaves half a table
    rows = text.count(b"\n") - 1
    print(f"wrote {rows} rows to {args.out} (content sha256 {digest})")


if __name__ == "__main__":
    main()
