import numpy as np
import pandas as pd
import pytest

from dnadav.data import gosai_split, import_gosai, make_synthetic_gosai, read_gosai, read_sequences
from dnadav.data.gosai import GOSAI_COLUMNS, TEST_CHROMOSOMES, VALID_CHROMOSOMES, gosai_arrays, load_gosai
from dnadav.errors import InputError

HEADER = ",seq,hepg2,k562,sknsh,chrom\n"  # DRAKES writes a leading unnamed index column


def write(path, rows: list[str], header: str = HEADER):
    path.write_text(header + "".join(f"{i},{row}\n" for i, row in enumerate(rows)))
    return path


def gosai_error(path, **options) -> str:
    with pytest.raises(InputError) as error:
        read_gosai(path, **options)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_synthetic_file_has_the_drakes_format_and_a_known_rule(tmp_path):
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 200, length=50, seed=1)
    raw = pd.read_csv(source, index_col=0)
    assert list(raw.columns) == list(GOSAI_COLUMNS) and raw.index.tolist() == list(range(200))
    table = read_gosai(source, length=50)
    assert list(table.columns) == list(GOSAI_COLUMNS) and len(table) == 200
    assert table["seq"].str.len().eq(50).all() and set(table["chrom"]) == {f"chr{i}" for i in range(1, 23)}
    residual = table["k562"] - table["seq"].str.count("GATA")
    assert residual.abs().max() < 0.6 and abs(residual.mean()) < 0.05  # activity = motif count + N(0, 0.1)
    again = read_gosai(make_synthetic_gosai(tmp_path / "again.csv", 200, length=50, seed=1), length=50)
    pd.testing.assert_frame_equal(table, again)  # deterministic in the seed


def test_read_gosai_upper_cases_and_returns_floats(tmp_path):
    table = read_gosai(write(tmp_path / "d.csv", ["acgt,1,2,3,chr1", "GGCC,-1.5,0,2e-3,chrX"]), length=4)
    assert table["seq"].tolist() == ["ACGT", "GGCC"] and table["sknsh"].tolist() == [3.0, 0.002]
    assert table["hepg2"].dtype == np.float64 and table["chrom"].tolist() == ["chr1", "chrX"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["ACGT,1,2,3,chr1", "ACNT,1,2,3,chr1"], "record #2 (line 3): character 'N' at position 3 is not A/C/G/T"),
        (["ACGT,1,2,3,chr1", "ACG,1,2,3,chr1"], "record #2 (line 3): sequence length 3, expected 4"),
        (["ACGT,1,2,3,chr1", ",1,2,3,chr1"], "record #2 (line 3): empty sequence"),
        (["ACGT,1,x,3,chr1"], "record #1 (line 2): k562 is not a number ('x')"),
        (["ACGT,1,2,,chr1"], "record #1 (line 2): sknsh is not a number ('')"),
        (["ACGT,1,2,3,"], "record #1 (line 2): empty chrom"),
        ([], "header only, no rows"),
    ],
)
def test_read_gosai_errors_name_file_row_and_problem(tmp_path, rows, expected):
    assert gosai_error(write(tmp_path / "bad.csv", rows), length=4).endswith(expected)


def test_read_gosai_missing_columns_lists_what_was_found(tmp_path):
    path = write(tmp_path / "cols.csv", ["ACGT,1"], header=",seq,HepG2\n")
    assert gosai_error(path).endswith("missing column(s) hepg2, k562, sknsh, chrom; columns found: seq, HepG2")
    assert gosai_error(tmp_path / "absent.csv").endswith("no such file")
    (tmp_path / "empty.csv").write_text("")
    assert gosai_error(tmp_path / "empty.csv").endswith("empty file")


def test_default_length_is_200(tmp_path):
    assert gosai_error(write(tmp_path / "d.csv", ["ACGT,1,2,3,chr1"])).endswith("sequence length 4, expected 200")


def test_split_holds_out_whole_chromosomes(tmp_path):
    table = read_gosai(make_synthetic_gosai(tmp_path / "dataset.csv", 66, length=20), length=20)
    split = gosai_split(table)
    assert split.name == "split" and split.index.equals(table.index)
    assert set(table.loc[split == "test", "chrom"]) == set(TEST_CHROMOSOMES) & set(table["chrom"])
    assert set(table.loc[split == "valid", "chrom"]) == set(VALID_CHROMOSOMES) & set(table["chrom"])
    assert split.value_counts().to_dict() == {"train": 54, "test": 6, "valid": 6}  # 3 rows per chromosome
    custom = gosai_split(table, valid_chroms=("chr1",), test_chroms=("chr2", "chr3"))
    assert custom.value_counts().to_dict() == {"train": 57, "test": 6, "valid": 3}
    with pytest.raises(ValueError, match="chr2 are both valid and test"):
        gosai_split(table, valid_chroms=("chr2",), test_chroms=("chr2",))


def test_import_gosai_writes_an_hdf5_table_and_a_card(tmp_path):
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 66, length=200, seed=3)
    target = import_gosai(source, tmp_path / "out")
    assert target == tmp_path / "out" / "gosai.h5"
    imported = load_gosai(target)
    assert list(imported.columns) == [*GOSAI_COLUMNS, "split"] and len(imported) == 66
    assert imported["split"].value_counts().to_dict() == {"train": 54, "test": 6, "valid": 6}
    original = read_gosai(source)
    pd.testing.assert_frame_equal(imported[list(GOSAI_COLUMNS)], original, check_dtype=False)  # lossless
    as_sequences = read_sequences(target, length=200)  # the generic reader takes it too
    assert as_sequences.sequences == original["seq"].tolist() and {"hepg2", "k562", "sknsh"} <= set(as_sequences.values)
    card = (tmp_path / "out" / "card.md").read_text()
    from dnadav.io import sha256_file

    assert sha256_file(source) in card and "Rows: 66" in card and "| test | chr7, chr13 | 6 |" in card
    assert "MPRA" in card and "not chromatin accessibility" in card
    with pytest.raises(InputError, match="already exists; pass --force"):
        import_gosai(source, tmp_path / "out")
    import_gosai(source, tmp_path / "out", force=True)
    pd.testing.assert_frame_equal(load_gosai(target), imported)


def test_gosai_arrays_are_tokens_and_activities_of_the_chosen_rows(tmp_path):
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 66, length=200, seed=4)
    target = import_gosai(source, tmp_path / "out")
    table = read_gosai(source)
    tokens, activities, rows = gosai_arrays(target, "train", ("chr1", "chr3"))
    expected = table[table["chrom"].isin(["chr1", "chr3"])]
    assert tokens.shape == (6, 200) and tokens.dtype == np.uint8 and "seq" not in rows
    assert ["".join("ACGT"[i] for i in row) for row in tokens] == expected["seq"].tolist()
    np.testing.assert_allclose(activities, expected[["hepg2", "k562", "sknsh"]].to_numpy(), rtol=1e-6)
    from_csv = gosai_arrays(source, "train", ("chr1", "chr3"))  # a raw dataset.csv gives the same arrays
    np.testing.assert_array_equal(from_csv[0], tokens)
    with pytest.raises(InputError, match="no test rows on chr1"):
        gosai_arrays(target, "test", ("chr1",))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="junk.h5: not a readable HDF5 file"):
        load_gosai(tmp_path / "junk.h5")


def test_reference_set_is_the_top_tenth_of_a_percent_of_hepg2(tmp_path):
    from dnadav.evaluate.reference import gosai_reference_sequences

    table = pd.DataFrame({"seq": [f"{i:04d}" for i in range(2001)], "hepg2": np.arange(2001.0)[::-1]})
    table["chrom"], table["split"] = "chr1", "train"
    # the 99.9th percentile of 0..2000 is exactly 1998: strictly above it are 1999 and 2000 (DRAKES's ">")
    assert gosai_reference_sequences(table) == ["0000", "0001"]
    assert len(gosai_reference_sequences(table, percentile=99.0)) == 20


def test_import_gosai_writes_nothing_for_a_bad_file(tmp_path):
    bad = write(tmp_path / "bad.csv", ["ACGT,1,2,3,chr1"])
    with pytest.raises(InputError, match="expected 200"):
        import_gosai(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
