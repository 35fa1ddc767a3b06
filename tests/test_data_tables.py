import gzip

import h5py
import numpy as np
import pytest

from dnadav.data import load_dhs, read_sequences, write_fasta
from dnadav.data.gosai import gosai_split, import_gosai, make_synthetic_gosai, read_gosai
from dnadav.errors import InputError


def write(path, text):
    path.write_text(text)
    return path


def test_fasta_round_trip_keeps_ids_and_header_scores(tmp_path):
    out = write_fasta(
        tmp_path / "d.fa", ["a", "b"], ["ACGT", "acgt"], [{"reward": 1.5, "eval": -0.25}, {"reward": 2.0, "eval": 0.001}]
    )
    table = read_sequences(out)
    assert table.ids == ["a", "b"] and table.sequences == ["ACGT", "ACGT"]
    assert table.values["reward"].tolist() == [1.5, 2.0] and table.values["eval"].tolist() == [-0.25, 0.001]
    with pytest.raises(InputError, match="already exists; pass --force"):
        write_fasta(out, ["a"], ["ACGT"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a\nACGT\n>b\nACNT\n", r"record 'b' \(#2\): character 'N' at position 3 is not A/C/G/T"),
        (">a\nACGT\n>b\nACG\n", r"record 'b' \(#2\): length 3, expected 4"),
        (">a\nACGT\n>a\nACGA\n", r"record 'a' \(#2\): duplicate id \(first at #1\)"),
        ("ACGT\n>a\nACGT\n", "first non-empty line must start with '>'"),
        ("", "no records"),
    ],
)
def test_fasta_errors_name_file_record_and_problem(tmp_path, text, message):
    path = write(tmp_path / "bad.fa", text)
    with pytest.raises(InputError, match=message) as error:
        read_sequences(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_drop_counts_invalid_records_instead_of_fixing_them(tmp_path):
    path = write(tmp_path / "mixed.fa", ">a\nACGT\n>b\nACNT\n>c\nGGCC\n")
    table = read_sequences(path, on_invalid="drop")
    assert table.ids == ["a", "c"] and table.dropped == 1


def test_explicit_length_is_checked(tmp_path):
    with pytest.raises(InputError, match="length 4, expected 200"):
        read_sequences(write(tmp_path / "x.fa", ">a\nACGT\n"), length=200)


def test_csv_tsv_gz_and_missing_column(tmp_path):
    write(tmp_path / "t.csv", "name,sequence,score\nx,ACGT,1.5\ny,GGGG,2\n")
    table = read_sequences(tmp_path / "t.csv")
    assert table.ids == ["x", "y"] and table.values["score"].tolist() == [1.5, 2.0]
    (tmp_path / "t.tsv.gz").write_bytes(gzip.compress(b"seq\nACGT\nTTTT\n"))
    assert read_sequences(tmp_path / "t.tsv.gz").ids == ["row1", "row2"]
    write(tmp_path / "nocol.csv", "name,dna\nx,ACGT\n")
    with pytest.raises(InputError, match="no sequence column .* columns are name, dna"):
        read_sequences(tmp_path / "nocol.csv")
    with pytest.raises(InputError, match="unknown file type '.xyz'"):
        read_sequences(write(tmp_path / "a.xyz", "x"))


def test_hdf5_strings_and_onehot(tmp_path):
    with h5py.File(tmp_path / "s.h5", "w") as handle:
        handle["sequences"] = np.array([b"ACGT", b"TTGA"])
    assert read_sequences(tmp_path / "s.h5").sequences == ["ACGT", "TTGA"]
    onehot = np.eye(4, dtype=np.float32)[[[0, 1, 2, 3]]]  # [1, L, 4]
    with h5py.File(tmp_path / "o.h5", "w") as handle:
        handle["sequences"] = onehot
        handle["ids"] = np.array([b"only"])
    table = read_sequences(tmp_path / "o.h5")
    assert table.ids == ["only"] and table.sequences == ["ACGT"]


def test_dhs_is_shipped_with_its_documented_counts():
    table = load_dhs()
    assert len(table) == 47872
    assert table["split"].value_counts().to_dict() == {"train": 39254, "test": 4565, "valid": 4053}
    assert set(load_dhs("test")["chrom"]) == {"chr1"} and set(load_dhs("valid")["chrom"]) == {"chr2"}
    assert (load_dhs("train", "HepG2")["cell_type"] == "HepG2").all()


def test_gosai_format_round_trip_and_errors(tmp_path):
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 120, length=50, seed=1)
    table = read_gosai(source, length=50)
    assert list(table.columns) == ["seq", "hepg2", "k562", "sknsh", "chrom"] and len(table) == 120
    split = gosai_split(table)
    assert set(split) == {"train", "valid", "test"} and (split[table["chrom"] == "chr13"] == "test").all()
    write(tmp_path / "bad.csv", "seq,hepg2,k562,sknsh,chrom\nACGT,1,2,3,chr1\nACNT,1,2,3,chr1\n")
    with pytest.raises(InputError, match=r"row 3: character 'N' at position 3"):
        read_gosai(tmp_path / "bad.csv", length=4)
    write(tmp_path / "cols.csv", "seq,hepg2\nACGT,1\n")
    with pytest.raises(InputError, match="missing column"):
        read_gosai(tmp_path / "cols.csv")


def test_import_gosai_writes_a_normalised_copy_and_a_card(tmp_path):
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 60, length=200)
    target = import_gosai(source, tmp_path / "out")
    imported = read_sequences(target)
    assert len(imported) == 60 and {"hepg2", "k562", "sknsh"} <= set(imported.values)
    assert "MPRA" in (tmp_path / "out" / "card.md").read_text()
    with pytest.raises(InputError, match="already exists"):
        import_gosai(source, tmp_path / "out")
