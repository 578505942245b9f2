import gzip

import pytest

from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.fasta import FastaFile


def write(path, text: str, gz: bool = False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_multi_record_crlf_lowercase_iupac_ragged_lines(tmp_path, gz):
    p = write(tmp_path / ("g.fa.gz" if gz else "g.fa"), ">chr1 some description\r\nACGTacgtNN\r\nRYK\r\n"
              ">chr2\nGGGGGGGGGGGGGGG\nC\n\n", gz)
    fa = FastaFile(p)
    assert fa.names == ["chr1", "chr2"]
    assert fa.length("chr1") == 13 and fa.length("chr2") == 16
    assert fa.fetch("chr1", 0, 13) == "ACGTacgtNNRYK"
    assert fa.fetch("chr2", 14, 16) == "GC"


def test_long_record_random_access_matches_source(tmp_path):
    import random

    rng = random.Random(0)
    seq = "".join(rng.choice("ACGT") for _ in range(50_000))
    p = write(tmp_path / "long.fa", ">x\n" + "\n".join(seq[i:i + 70] for i in range(0, len(seq), 70)) + "\n")
    fa = FastaFile(p)
    for start in (0, 69, 70, 12_345, 49_990):
        assert fa.fetch("x", start, start + 10) == seq[start:start + 10]


def test_second_open_reuses_the_normalised_copy(tmp_path, monkeypatch):
    p = write(tmp_path / "g.fa", ">a\nACGT\n")
    FastaFile(p)
    import genefinder.formats.fasta as fasta_module

    monkeypatch.setattr(fasta_module, "_normalise", lambda *a: pytest.fail("normalised twice"))
    assert FastaFile(p).fetch("a", 0, 4) == "ACGT"


@pytest.mark.parametrize("text, line, words", [
    (">a\nACGT\nACXT\n", 3, "invalid character 'X' at column 3"),
    ("ACGT\n", 1, "before the first '>'"),
    (">a\nACGT\n>a\nACGT\n", 3, "duplicate sequence name 'a'"),
    (">\nACGT\n", 1, "empty FASTA header"),
])
def test_bad_fasta_names_file_and_line(tmp_path, text, line, words):
    p = write(tmp_path / "bad.fa", text)
    with pytest.raises(GeneFinderInputError) as err:
        FastaFile(p)
    assert str(err.value).startswith(f"{p}:{line}: ") and words in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["", "\n\n", ">a\n>b\n"])
def test_empty_fasta_is_an_error(tmp_path, text):
    with pytest.raises(GeneFinderInputError, match="no sequence records|every record is empty"):
        FastaFile(write(tmp_path / "empty.fa", text))


def test_empty_record_is_skipped_with_a_warning(tmp_path, caplog):
    fa = FastaFile(write(tmp_path / "g.fa", ">empty\n>b\nACGT\n"))
    assert fa.names == ["b"]
    assert "record 'empty' has no bases; skipped" in caplog.text


def test_truncated_gzip_is_a_clear_error(tmp_path):
    data = gzip.compress((">a\n" + "ACGT" * 10_000 + "\n").encode())
    p = tmp_path / "trunc.fa.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(GeneFinderInputError, match="cannot read"):
        FastaFile(p)


def test_missing_file(tmp_path):
    with pytest.raises(GeneFinderInputError, match="not found"):
        FastaFile(tmp_path / "nope.fa")


def test_folder_is_refused_as_a_folder(tmp_path):
    with pytest.raises(GeneFinderInputError, match=r"^.*: FASTA path is a folder or a device, not a file$"):
        FastaFile(tmp_path)
