import gzip
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnadav.data import SequenceTable, format_description, load_dhs, read_sequences, write_fasta
from dnadav.errors import InputError


def write(path, text):
    path.write_text(text)
    return path


def read_error(path, **options) -> str:
    """The InputError message of reading ``path``; checks it is one line naming the file."""
    with pytest.raises(InputError) as error:
        read_sequences(path, **options)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


# --- FASTA -------------------------------------------------------------------------------------


def test_write_fasta_round_trip_keeps_ids_and_header_scores(tmp_path):
    scores = [{"reward": 1.2345, "eval": -0.25, "rank": 1}, {"reward": 2.0, "eval": 1e-7, "rank": 2}]
    out = write_fasta(tmp_path / "d.fa", ["design_0001", "design_0002"], ["ACGT", "acgt"], scores)
    assert out.read_text().splitlines()[0] == ">design_0001 reward=1.2345 eval=-0.25 rank=1"
    table = read_sequences(out)
    assert table.ids == ["design_0001", "design_0002"] and table.sequences == ["ACGT", "ACGT"]
    assert table.values["reward"].tolist() == [1.2345, 2.0] and table.values["eval"].tolist() == [-0.25, 1e-7]
    assert table.values["rank"].tolist() == [1.0, 2.0] and table.source == str(out) and len(table) == 2


@settings(max_examples=25, deadline=None)
@given(
    sequences=st.lists(st.text("ACGTacgt", min_size=7, max_size=7), min_size=1, max_size=5),
    scores=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=5, max_size=5),
)
def test_write_then_read_round_trips_exactly(tmp_path_factory, sequences, scores):
    path = tmp_path_factory.mktemp("rt") / "d.fa"
    ids = [f"design_{i:04d}" for i in range(len(sequences))]
    write_fasta(path, ids, sequences, [{"reward": s} for s in scores[: len(sequences)]])
    table = read_sequences(path, length=7)
    assert table.ids == ids and table.sequences == [s.upper() for s in sequences]
    assert table.values["reward"].tolist() == scores[: len(sequences)]


def test_write_fasta_is_biopython_readable_one_line_per_sequence(tmp_path):
    from Bio import SeqIO

    out = write_fasta(tmp_path / "d.fa", ["a", "b"], ["A" * 200, "C" * 200], ["free text x=1", None])
    records = list(SeqIO.parse(out, "fasta"))
    assert [r.id for r in records] == ["a", "b"] and records[0].description == "a free text x=1"
    assert len(out.read_text().splitlines()) == 4
    assert read_sequences(out).values == {}  # x=1 is only in one header: no column


def test_write_fasta_refuses_to_overwrite_and_bad_ids(tmp_path):
    out = write_fasta(tmp_path / "d.fa", ["a"], ["ACGT"])
    with pytest.raises(InputError, match="already exists; pass --force"):
        write_fasta(out, ["a"], ["ACGT"])
    write_fasta(out, ["b"], ["GG"], force=True)
    assert read_sequences(out).ids == ["b"]
    with pytest.raises(ValueError, match="white space"):
        write_fasta(tmp_path / "e.fa", ["a b"], ["ACGT"])
    with pytest.raises(ValueError, match="unique"):
        write_fasta(tmp_path / "e.fa", ["a", "a"], ["ACGT", "ACGT"])
    with pytest.raises(ValueError, match="same length"):
        write_fasta(tmp_path / "e.fa", ["a"], ["ACGT"], [{}, {}])
    assert not (tmp_path / "e.fa").exists()


def test_format_description():
    assert format_description({"reward": 1.5, "n": 3, "p": np.float32(0.25)}) == "reward=1.5 n=3 p=0.25"
    assert format_description("as is") == "as is" and format_description(None) == ""
    with pytest.raises(ValueError, match="key"):
        format_description({"bad key": 1.0})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">a\nACGT\n>b\nACNT\n", "record 'b' (#2): character 'N' at position 3 is not A/C/G/T"),
        (">a\nACGT\n>b\nAC-T\n", "record 'b' (#2): character '-' at position 3 is not A/C/G/T"),
        (">a\nACGT\n>b\nACGTA\n>c\nTTTT\n", "record 'b' (#2): length 5, expected 4 (the most common length here"),
        (">a\nACGT\n>b\nACG\n", "record 'b' (#2): length 3, expected 4"),  # a tie: the first record's length wins
        (">a\nACGT\n>b\n\n>c\nACGT\n", "record 'b' (#2): empty sequence"),
        (">a\nACGT\n>a\nACGA\n", "record 'a' (#2): duplicate id (first at #1)"),
        ("ACGT\n>a\nACGT\n", "not FASTA: the first non-empty line must start with '>'"),
        (">a\nACGT\n>\nACGT\n", "record #2: empty FASTA header"),
        ("", "empty file, no records"),
        ("\n\n", "empty file, no records"),
    ],
)
def test_fasta_errors_name_file_record_and_problem(tmp_path, text, expected):
    assert expected in read_error(write(tmp_path / "bad.fa", text))


def test_lower_case_is_upper_cased_and_gzip_fasta(tmp_path):
    (tmp_path / "x.fa.gz").write_bytes(gzip.compress(b">s1 score=2\nacgT\n"))
    table = read_sequences(tmp_path / "x.fa.gz")
    assert table.sequences == ["ACGT"] and table.values["score"].tolist() == [2.0]


def test_explicit_length_is_checked(tmp_path):
    message = read_error(write(tmp_path / "x.fa", ">a\nACGT\n"), length=200)
    assert message.endswith("record 'a' (#1): length 4, expected 200")


def test_missing_file_and_unknown_type(tmp_path):
    assert read_error(tmp_path / "nope.fa").endswith("no such file")
    assert "unknown file type '.xyz'" in read_error(write(tmp_path / "a.xyz", "x"))
    (tmp_path / "broken.fa.gz").write_bytes(b"not gzip")
    assert "not a readable gzip file" in read_error(tmp_path / "broken.fa.gz")


# --- on_invalid ---------------------------------------------------------------------------------


def test_drop_counts_invalid_records_instead_of_fixing_them(tmp_path):
    path = write(tmp_path / "mixed.fa", ">a s=1\nACGT\n>b s=2\nACNT\n>c s=3\nGGCC\n>d s=4\nGG\n")
    table = read_sequences(path, on_invalid="drop")
    assert table.ids == ["a", "c"] and table.sequences == ["ACGT", "GGCC"] and table.dropped == 2
    assert table.values["s"].tolist() == [1.0, 3.0]
    message = read_error(write(tmp_path / "all_bad.fa", ">a\nNNNN\n>b\nACGX\n"), on_invalid="drop")
    assert "all 2 records are invalid, e.g. record 'a' (#1): character 'N' at position 1" in message


def test_pad_pads_short_records_with_the_named_base_and_says_so(tmp_path):
    path = write(tmp_path / "short.fa", ">a\nACGT\n>b\nAC\n")
    with pytest.warns(UserWarning, match="padded 1 short record"):
        table = read_sequences(path, length=4, on_invalid="pad", pad_base="a")
    assert table.sequences == ["ACGT", "ACAA"] and table.padded == 1 and table.dropped == 0
    with pytest.warns(UserWarning):
        assert read_sequences(path, on_invalid="pad", pad_to=6, pad_base="T").sequences == ["ACGTTT", "ACTTTT"]
    too_long = write(tmp_path / "long.fa", ">a\nACGTAC\n")
    assert read_error(too_long, length=4, on_invalid="pad", pad_base="A").endswith("length 6, expected 4")
    bad_char = write(tmp_path / "n.fa", ">a\nAN\n")
    assert "character 'N'" in read_error(bad_char, length=4, on_invalid="pad", pad_base="A")
    with pytest.raises(ValueError, match="pad_base"):
        read_sequences(path, length=4, on_invalid="pad")
    with pytest.raises(ValueError, match="pad_to"):
        read_sequences(path, on_invalid="pad", pad_base="A")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to pad: no warning
        dropped = read_sequences(path, length=4, on_invalid="drop", pad_base="A")  # pad_base alone pads nothing
        assert dropped.padded == 0 and dropped.dropped == 1


def test_unknown_on_invalid_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="on_invalid"):
        read_sequences(write(tmp_path / "a.fa", ">a\nA\n"), on_invalid="fix")  # type: ignore[arg-type]


# --- CSV / TSV ----------------------------------------------------------------------------------


def test_csv_with_id_and_numeric_columns(tmp_path):
    write(tmp_path / "t.csv", "Name,Sequence,score,label\nx,acgt,1.5,hi\ny,GGGG,2,lo\n")
    table = read_sequences(tmp_path / "t.csv")
    assert table.ids == ["x", "y"] and table.sequences == ["ACGT", "GGGG"]
    assert list(table.values) == ["score"] and table.values["score"].tolist() == [1.5, 2.0]


def test_tsv_gz_and_txt_without_id_column_get_row_numbers(tmp_path):
    (tmp_path / "t.tsv.gz").write_bytes(gzip.compress(b"seq\tvalue\nACGT\t1\nTTTT\t2\n"))
    table = read_sequences(tmp_path / "t.tsv.gz")
    assert table.ids == ["row1", "row2"] and table.values["value"].tolist() == [1.0, 2.0]
    write(tmp_path / "t.txt", "dhs_id\tsequences\nchr1_1\tAC\n")
    assert read_sequences(tmp_path / "t.txt").ids == ["chr1_1"]


def test_table_errors_name_file_record_and_problem(tmp_path):
    message = read_error(write(tmp_path / "nocol.csv", "name,dna\nx,ACGT\n"))
    assert message.endswith("no sequence column (looked for sequence, seq, sequences); columns found: name, dna")
    assert read_error(write(tmp_path / "n.csv", "id,seq\na,ACGT\nb,ACGN\n")).endswith(
        "record 'b' (#2): character 'N' at position 4 is not A/C/G/T"
    )
    assert read_error(write(tmp_path / "gap.csv", "id,seq\na,ACGT\nb,\n")).endswith("record 'b' (#2): empty sequence")
    assert read_error(write(tmp_path / "dup.tsv", "id\tseq\na\tACGT\na\tACGT\n")).endswith("duplicate id (first at #1)")
    assert read_error(write(tmp_path / "noid.csv", "id,seq\n,ACGT\n")).endswith("record #1: empty id")
    assert read_error(write(tmp_path / "hdr.csv", "id,seq\n")).endswith("empty file, no records")
    assert read_error(write(tmp_path / "zero.csv", "")).endswith("empty file, no records")
    ragged = read_error(write(tmp_path / "ragged.csv", "id,seq\na,ACGT\nb,ACGT,extra,more\n"))
    assert "cannot parse as CSV" in ragged


# --- HDF5 ---------------------------------------------------------------------------------------


def test_hdf5_strings_with_ids_and_values(tmp_path):
    with h5py.File(tmp_path / "s.h5", "w") as handle:
        handle["sequences"] = np.array([b"ACGT", b"ttga"])
        handle["ids"] = np.array([b"p", b"q"])
        handle["activity"] = np.array([0.5, 1.5])
    table = read_sequences(tmp_path / "s.h5")
    assert table.ids == ["p", "q"] and table.sequences == ["ACGT", "TTGA"]
    assert table.values["activity"].tolist() == [0.5, 1.5]


@pytest.mark.parametrize("layout", ["N4L", "NL4"])
def test_hdf5_onehot_both_layouts(tmp_path, layout):
    tokens = np.array([[0, 1, 2, 3, 3], [3, 3, 2, 1, 0]])
    onehot = np.eye(4, dtype=np.float32)[tokens]  # [N, L, 4]
    with h5py.File(tmp_path / "o.hdf5", "w") as handle:
        handle["sequences"] = onehot.transpose(0, 2, 1) if layout == "N4L" else onehot
    assert read_sequences(tmp_path / "o.hdf5").sequences == ["ACGTT", "TTGCA"]


def test_hdf5_errors(tmp_path):
    onehot = np.eye(4, dtype=np.float32)[[[0, 1, 2, 3]]].transpose(0, 2, 1).copy()  # [1, 4, 4]
    onehot[0, :, 2] = 0  # position 3 masked
    with h5py.File(tmp_path / "m.h5", "w") as handle:
        handle["sequences"] = onehot
        handle["ids"] = np.array([b"only"])
    assert "record 'only' (#1): one-hot column at position 3 is not exactly one 1" in read_error(tmp_path / "m.h5")
    with h5py.File(tmp_path / "none.h5", "w") as handle:
        handle["seqs"] = np.array([b"ACGT"])
    assert read_error(tmp_path / "none.h5").endswith("no 'sequences' dataset; datasets found: seqs")
    with h5py.File(tmp_path / "n.h5", "w") as handle:
        handle["sequences"] = np.array([b"ACGT", b"ACNT"])
    assert read_error(tmp_path / "n.h5").endswith("record 'row2' (#2): character 'N' at position 3 is not A/C/G/T")
    with h5py.File(tmp_path / "ids.h5", "w") as handle:
        handle["sequences"] = np.array([b"ACGT", b"ACGT"])
        handle["ids"] = np.array([b"a"])
    assert "'ids' holds 1 entries but 'sequences' holds 2" in read_error(tmp_path / "ids.h5")
    assert "not a readable HDF5 file" in read_error(write(tmp_path / "fake.h5", "text"))


# --- the shipped DHS set ------------------------------------------------------------------------


def test_dhs_is_shipped_with_its_documented_counts():
    table = load_dhs()
    assert len(table) == 47872
    assert table["split"].value_counts().to_dict() == {"train": 39254, "test": 4565, "valid": 4053}
    assert set(load_dhs("test")["chrom"]) == {"chr1"} and set(load_dhs("valid")["chrom"]) == {"chr2"}
    assert (load_dhs("train", "HepG2")["cell_type"] == "HepG2").all()


def test_sequence_table_positional_construction():
    table = SequenceTable(["a"], ["ACGT"], "given")
    assert table.values == {} and table.dropped == 0 and table.padded == 0 and len(table) == 1
