import io

import pytest
from vcf_fixtures import HEADER, ecoli_slice, snv_positions, write_vcf

from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.vcf import read_snvs, write_annotated_vcf


@pytest.mark.parametrize("gz", [False, True])
def test_snvs_of_a_real_slice_multiallelic_split_and_skips_counted(tmp_path, gz):
    _, seq = ecoli_slice(tmp_path)
    expected = write_vcf(tmp_path / "v.vcf", seq, snv_positions(30), gz=gz)
    snvs, skipped = read_snvs(tmp_path / "v.vcf")
    assert [(s.pos, s.ref, s.alt) for s in snvs] == expected
    assert all(s.ref == seq[s.pos - 1].upper() for s in snvs)
    assert dict(skipped) == {"indel": 1, "mnp": 1, "symbolic": 2, "no_alt": 1}
    multi = [s for s in snvs if s.id == "multi"]
    assert [s.allele for s in multi] == [0, 2] and multi[0].line == multi[1].line == 4 + 30 + 1


def test_malformed_lines_name_file_and_line(tmp_path):
    cases = {
        "1\t5\t.\tA\tG\t.\t.\t.\n": "record before the '#CHROM' header line",
        HEADER + "chr\tx\t.\tA\tG\t.\t.\t.\n": "POS must be a positive integer",
        HEADER + "chr\t5\t.\tA\tG\n": "needs 8 tab-separated columns",
    }
    for text, message in cases.items():
        path = tmp_path / "bad.vcf"
        path.write_text(text)
        with pytest.raises(GeneFinderInputError, match=message) as err:
            read_snvs(path)
        assert f"bad.vcf:{text.count(chr(10))}:" in str(err.value)


def test_annotated_vcf_number_a_and_rerun_replaces_field(tmp_path):
    path = tmp_path / "v.vcf"
    path.write_text(HEADER + "c\t3\t.\tA\tG,AT,T\t.\t.\tDP=4\nc\t9\t.\tAC\tA\t.\t.\t.\n")
    out = io.StringIO()
    write_annotated_vcf(path, out, {(5, 0): -1.5, (5, 2): 0.25}, "GF_LLR", "test")
    lines = out.getvalue().splitlines()
    assert lines[3] == '##INFO=<ID=GF_LLR,Number=A,Type=Float,Description="test">' and lines[4].startswith("#CHROM")
    assert lines[5].split("\t")[7] == "DP=4;GF_LLR=-1.5,.,0.25"
    assert lines[6].split("\t")[7] == "."  # nothing scored: copied unchanged
    again = tmp_path / "again.vcf"
    again.write_text(out.getvalue())
    out2 = io.StringIO()
    write_annotated_vcf(again, out2, {(6, 0): 2.0}, "GF_LLR", "test")
    assert out2.getvalue().count("##INFO=<ID=GF_LLR") == 1
    assert out2.getvalue().splitlines()[5].split("\t")[7] == "DP=4;GF_LLR=2,.,."
