"""Extract the JASPAR CORE vertebrate PFMs dnadav evaluates with into datasets/jaspar/motifs.json.

Run once, by hand: `pip install pyjaspar==4.0.0 && python scripts/extract_jaspar.py`. The pyjaspar
wheel holds the whole database (every release as SQLite); dnadav ships only these few matrices in a
small JSON file, so it does not depend on pyjaspar at run time. Names missing from CORE vertebrates
are reported and skipped. Rewrites datasets/jaspar/motifs.json; update datasets/jaspar/card.md by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

# Motif name -> the cell type it marks (liver factors for HepG2, then K562, GM12878, hESC, a control).
MOTIFS = {
    "HNF1A": "HepG2",
    "HNF1B": "HepG2",
    "HNF4A": "HepG2",
    "HNF4G": "HepG2",
    "FOXA1": "HepG2",
    "FOXA2": "HepG2",
    "CEBPA": "HepG2",
    "CEBPB": "HepG2",
    "ONECUT1": "HepG2",
    "GATA1::TAL1": "K562",
    "GATA1": "K562",
    "TAL1::TCF3": "K562",
    "KLF1": "K562",
    "SPI1": "GM12878",
    "IRF4": "GM12878",
    "EBF1": "GM12878",
    "RUNX3": "GM12878",
    "Pou5f1::Sox2": "hESC",
    "SOX2": "hESC",
    "NANOG": "hESC",
    "CTCF": "control",
}


def main() -> None:
    from pyjaspar import jaspardb

    database = jaspardb()
    out = []
    for name, cell_type in MOTIFS.items():
        candidates = [m for m in database.fetch_motifs_by_name(name) if m.collection == "CORE" and m.tax_group == "vertebrates"]
        if not candidates:
            print(f"skipped {name}: not in JASPAR CORE vertebrates")
            continue
        # one matrix per name: the highest version; among equals the oldest (canonical) base id
        motif = min(candidates, key=lambda m: (-int(m.version), m.base_id))
        counts = [[float(x) for x in motif.counts[base]] for base in "ACGT"]
        out.append(
            {
                "name": name,
                "matrix_id": motif.matrix_id,
                "base_id": motif.base_id,
                "version": int(motif.version),
                "cell_type": cell_type,
                "tf_class": list(motif.tf_class or []),
                "tf_family": list(motif.tf_family or []),
                "data_type": motif.data_type,
                "counts": counts,
            }
        )
    target = Path(__file__).resolve().parent.parent / "datasets" / "jaspar" / "motifs.json"
    header = {
        "release": database.release,
        "collection": "CORE",
        "tax_group": "vertebrates",
        "source": "pyjaspar 4.0.0 wheel (bundled SQLite database)",
        "licence": "JASPAR data: CC BY 4.0 (https://jaspar.elixir.no); cite Rauluseviciute et al. 2024, NAR",
    }
    target.write_text(json.dumps({**header, "motifs": out}, indent=1) + "\n")
    print(f"wrote {len(out)} motifs to {target}")


if __name__ == "__main__":
    main()
