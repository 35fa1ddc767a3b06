import pytest

from dnadav.cli import main
from dnadav.data import make_synthetic_gosai, write_fasta


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dnadav data: error: ")
    return err


def test_import_gosai_to_a_given_folder(tmp_path, capsys):
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 44, length=200)
    assert main(["data", "import-gosai", str(source), "--out", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "imported 44 rows (train 36, valid 4, test 4)" in out and str(tmp_path / "g" / "gosai.h5") in out
    assert main(["data", "import-gosai", str(source), "--out", str(tmp_path / "g")]) == 2
    assert "already exists; pass --force" in one_error_line(capsys)
    assert main(["data", "import-gosai", str(source), "--out", str(tmp_path / "g"), "--force"]) == 0


def test_import_gosai_defaults_to_the_user_cache_and_info_reads_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["data", "info", "gosai"]) == 2
    assert "not imported yet; run `dnadav data import-gosai dataset.csv` first" in one_error_line(capsys)
    source = make_synthetic_gosai(tmp_path / "dataset.csv", 44, length=200)
    assert main(["data", "import-gosai", str(source)]) == 0
    assert (tmp_path / "home" / ".cache" / "dnadav" / "gosai" / "card.md").is_file()
    capsys.readouterr()
    assert main(["data", "info", "gosai"]) == 0
    assert "train" in capsys.readouterr().out


def test_import_gosai_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("seq,hepg2,k562,sknsh,chrom\n" + "A" * 199 + "N,1,2,3,chr1\n")
    assert main(["data", "import-gosai", str(bad), "--out", str(tmp_path / "g")]) == 2
    assert f"{bad}: record #1 (line 2): character 'N' at position 200" in one_error_line(capsys)


def test_info_dhs_counts_per_split_and_cell_type(capsys):
    assert main(["data", "info", "dhs"]) == 0
    out = capsys.readouterr().out
    assert "accessibility (not MPRA)" in out and "valid chromosomes: chr2" in out and "test chromosomes: chr1" in out
    hepg2 = next(line for line in out.splitlines() if line.startswith("HepG2")).split()
    assert hepg2[1:] == ["9833", "1177", "958", "11968"]


def test_info_file_reports_counts_and_header_values(tmp_path, capsys):
    path = write_fasta(tmp_path / "d.fa", ["a", "b"], ["ACGT", "GGCC"], [{"reward": 1.0}, {"reward": 3.0}])
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 2 records of 4 bp" in out and "reward: mean 2" in out
    assert "mean GC 0.750" in out  # ACGT 0.5, GGCC 1.0 (dnadav.dna.tokens.gc_content)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.fa", ">a\nACGT\n>b\nACNT\n", "record 'b' (#2): character 'N' at position 3"),
        ("bad.csv", "name,dna\nx,ACGT\n", "no sequence column"),
        ("missing.fa", None, "no such file"),
    ],
)
def test_info_bad_file_is_one_line_and_exit_2(tmp_path, capsys, name, text, expected):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    assert main(["data", "info", str(path)]) == 2
    assert f"{path}: " in (err := one_error_line(capsys)) and expected in err


def test_data_needs_a_verb(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["data"])
    assert exit_.value.code == 2
