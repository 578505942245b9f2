import math

import pytest
from mlm_fixtures import tiny_mlm_folder, tiny_scorer
from vcf_fixtures import SEQID, ecoli_slice, snv_positions, write_vcf

from genefinder import cli
from genefinder.encoder_tools.variant_scoring import context_window, score_queries, score_snvs, substitution_queries
from genefinder.formats.fasta import FastaFile
from genefinder.formats.vcf import SNV, read_snvs

WINDOW = 128  # nt of context in these tests: small, so a 2-layer model on one core scores 30 SNVs in well under 1 s


def test_context_window_centred_and_cut_at_contig_ends():
    assert context_window(1000, 500, 128) == (436, 564)
    assert context_window(1000, 3, 128) == (0, 67)
    assert context_window(1000, 999, 128) == (935, 1000)
    assert context_window(50, 25, 128) == (0, 50)
    assert context_window(50, 25, 128, multiple=3) == (0, 48)
    assert context_window(50, 49, 128, multiple=3) == (2, 50)  # the variant stays inside a whole codon


def test_cli_tsv_one_row_per_snv_vcf_out_and_skips_warned(tmp_path, caplog):
    fa, seq = ecoli_slice(tmp_path)
    expected = write_vcf(tmp_path / "v.vcf.gz", seq, snv_positions(30), gz=True)
    model = tiny_mlm_folder(tmp_path / "mlm")
    status = cli.main(["score-variants", "--model", str(model), "--fasta", str(fa), "--vcf", str(tmp_path / "v.vcf.gz"),
                       "-o", str(tmp_path / "out.tsv"), "--vcf-out", str(tmp_path / "out.vcf"),
                       "--window", str(WINDOW), "--batch-size", "8"])
    assert status == 0
    rows = [line.split("\t") for line in (tmp_path / "out.tsv").read_text().splitlines()]
    assert rows[0] == ["chrom", "pos", "id", "ref", "alt", "llr", "n_tokens"]
    assert [(int(r[1]), r[3], r[4]) for r in rows[1:]] == expected  # 30 + 2 SNVs of the multi-allelic record
    assert all(r[0] == SEQID and r[6] == "2" and math.isfinite(float(r[5])) for r in rows[1:])
    assert "skipped 5 ALT alleles" in caplog.text and "1 indel, 1 mnp, 2 symbolic, 1 no_alt" in caplog.text
    annotated = (tmp_path / "out.vcf").read_text().splitlines()
    assert sum(line.startswith("##INFO=<ID=GF_LLR,Number=A") for line in annotated) == 1
    multi = next(line for line in annotated if "\tmulti\t" in line)
    tsv_multi = [r[5] for r in rows if r[2] == "multi"]
    assert multi.split("\t")[7] == f"GF_LLR={tsv_multi[0]},.,{tsv_multi[1]}"


@pytest.mark.parametrize("encoder_type, kmer", [("aido", 1), ("aido", 3), ("dnabert2", 1)])
def test_reverse_substitution_on_the_alternative_genome_flips_the_sign(tmp_path, encoder_type, kmer):
    """Score ref -> alt on the reference, then alt -> ref on a genome carrying the alts: exactly the negation."""
    fa, seq = ecoli_slice(tmp_path)
    positions = list(range(1, len(seq) - WINDOW, 997)) + [len(seq)]  # > WINDOW apart: each context sees one variant
    write_vcf(tmp_path / "v.vcf", seq, positions, extras=False)
    snvs, _ = read_snvs(tmp_path / "v.vcf")
    alt_seq = list(seq)
    for s in snvs:
        alt_seq[s.pos - 1] = s.alt
    (tmp_path / "alt.fa").write_text(f">{SEQID}\n" + "".join(alt_seq) + "\n")
    lm = tiny_scorer(tmp_path, encoder_type, kmer)
    forward, n_tokens = score_snvs(lm, FastaFile(fa), snvs, WINDOW)
    swapped = [SNV(s.chrom, s.pos, s.alt, s.ref, s.id, s.line, s.allele) for s in snvs]
    backward, _ = score_snvs(lm, FastaFile(tmp_path / "alt.fa"), swapped, WINDOW)
    assert forward == pytest.approx([-b for b in backward], abs=1e-5)
    assert min(abs(f) for f in forward) > 1e-3  # the random model is not indifferent
    if encoder_type == "aido":
        assert set(n_tokens) == {2}  # the masked marginal over one token (a base or a codon)


def test_batched_equals_one_by_one_and_alt_equal_ref_is_zero(tmp_path):
    fa, seq = ecoli_slice(tmp_path)
    write_vcf(tmp_path / "v.vcf", seq, snv_positions(12, seed=1))
    snvs, _ = read_snvs(tmp_path / "v.vcf")
    ref = seq[776].upper()
    saturation = [SNV(SEQID, 777, ref, alt, "sat", 0, 0) for alt in "ACGT" if alt != ref]
    snvs += saturation + [SNV(SEQID, 777, ref, ref, "same", 0, 0)]
    lm = tiny_scorer(tmp_path)
    one = [score_snvs(lm, FastaFile(fa), [s], WINDOW, batch_size=1)[0][0] for s in snvs]
    rows_run = []
    forward = lm.log_probs
    lm.log_probs = lambda rows: rows_run.append(len(rows)) or forward(rows)
    batched, n_tokens = score_snvs(lm, FastaFile(fa), snvs, WINDOW, batch_size=5)
    assert batched == pytest.approx(one, abs=1e-5)
    assert batched[-1] == 0.0 and n_tokens[-1] == 0
    # ALTs of one position share a masked window (the 2 SNVs of `multi`, the 3 at 777); ALT == REF needs none
    assert sum(rows_run) == len(snvs) - 1 - 2 - 1 and max(rows_run) == 5


def test_bpe_segmentation_change_scores_pseudo_log_likelihoods(tmp_path):
    """Where the alt base changes the BPE tokens, the score is PLL(alt tokens) - PLL(ref tokens), checked by hand."""
    lm = tiny_scorer(tmp_path, "dnabert2")
    _, seq = ecoli_slice(tmp_path)
    window = seq[:200].upper()
    for offset in range(60, 140):
        alt = next(b for b in "ACGT" if b != window[offset])
        queries = substitution_queries(lm, 0, window, offset, alt)
        if len(queries) > 1:
            break
    else:
        pytest.fail("no substitution in 80 positions changed the BPE segmentation")
    ref_ids, _ = lm.encode(window)
    alt_ids, _ = lm.encode(window[:offset] + alt + window[offset + 1:])

    def pll(ids, positions):
        total = 0.0
        for t in positions:
            masked = list(ids)
            masked[t] = lm.mask_token_id
            total += float(lm.log_probs([tuple(masked)])[0, t, ids[t]])
        return total

    prefix = next(t for t in range(len(ref_ids)) if ref_ids[t] != alt_ids[t])
    suffix = next(t for t in range(len(ref_ids)) if ref_ids[-1 - t] != alt_ids[-1 - t])
    expected = pll(alt_ids, range(prefix, len(alt_ids) - suffix)) - pll(ref_ids, range(prefix, len(ref_ids) - suffix))
    scores, n_tokens = score_queries(lm, queries, 1, batch_size=3)
    assert scores[0] == pytest.approx(expected, abs=1e-5) and n_tokens[0] == len(queries) > 2


def test_ref_mismatch_and_unknown_chrom_name_the_vcf_line(tmp_path, capsys):
    fa, seq = ecoli_slice(tmp_path)
    model = tiny_mlm_folder(tmp_path / "mlm")
    wrong = next(b for b in "ACGT" if b != seq[99].upper())
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    cases = {f"{SEQID}\t100\t.\t{wrong}\tN\t.\t.\t.\n{SEQID}\t100\t.\t{wrong}\tT\t.\t.\t.\n":
             f"bad.vcf:4: REF '{wrong}' does not match the FASTA base '{seq[99].upper()}' at {SEQID}:100",
             "chrZ\t5\t.\tA\tG\t.\t.\t.\n": "bad.vcf:3: CHROM 'chrZ' is not a sequence of",
             f"{SEQID}\t20001\t.\tA\tG\t.\t.\t.\n": "bad.vcf:3: POS 20001 is past the end"}
    for body, message in cases.items():
        (tmp_path / "bad.vcf").write_text(header + body)
        status = cli.main(["score-variants", "--model", str(model), "--fasta", str(fa), "--vcf",
                           str(tmp_path / "bad.vcf"), "-o", str(tmp_path / "x.tsv")])
        last = capsys.readouterr().err.strip().splitlines()[-1]  # after transformers' loading bars
        assert status == 2 and last.startswith("genefinder: error: ") and message in last
        assert not (tmp_path / "x.tsv").exists()
    assert cli.main(["score-variants", "--model", str(model), "--fasta", str(fa), "--vcf", str(tmp_path / "bad.vcf")]) == 2
    assert "give -o/--output" in capsys.readouterr().err
