"""Zero-shot variant effects: the masked-LM log-likelihood ratio of the alternative vs the reference allele.

`genefinder score-variants --model M --fasta REF.fa --vcf SNVS.vcf -o out.tsv` (or `--vcf-out annotated.vcf`)
scores every single-nucleotide ALT allele of the VCF, the zero-shot score of GPN (Benegas et al. 2023, PNAS)
and of the Nucleotide Transformer and AIDO.DNA papers:

    LLR = log p(alt | context) - log p(ref | context),

with the context a window of `--window` nt of the reference centred on the variant (cut short at a contig end)
and the variant's token replaced by [MASK]. Negative = the model finds the alternative allele less likely than
the reference (for a model trained on genomes: a candidate deleterious change).

Which tokens are scored depends on the tokenizer, through one rule: tokenize the reference window and the
alternative window, and score the tokens that differ.

- Single-nucleotide tokens (AIDO-style, `kmer=1`): exactly one token differs, the variant itself; one forward
  pass with it masked gives both log p(alt) and log p(ref) (the masked marginal).
- Multi-nucleotide tokens (codons, `kmer=3`; BPE, `dnabert2`): when one token differs and its span is the same
  in both alleles (always for codons; usually for BPE), the same masked marginal over that token's vocabulary.
  Codons are read in the frame of the window's first base (the window is cut to whole codons around the
  variant); the model is not told the gene's reading frame.
  When the alternative base changes the BPE segmentation around it, the two alleles have different tokens and
  the score is the difference of their pseudo-log-likelihoods (Salazar et al. 2020) over the differing tokens:
  each such token masked in turn, with the rest of its own allele's window as context. It sums over
  different numbers of tokens, so such scores are not on the scale of single-nucleotide LLRs; the TSV's
  `n_tokens` column says how many tokens each score used (2 = the plain masked marginal).

Scoring the reverse substitution on the alternative genome gives exactly the negated score (tested), and an
ALT equal to REF gives 0. Windows are batched (`--batch-size` masked windows per forward pass), and the ALTs
of one position share their masked window.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..formats.errors import GeneFinderInputError
from ..formats.vcf import SNV

logger = logging.getLogger(__name__)

INFO_KEY = "GF_LLR"
INFO_DESCRIPTION = "genefinder masked-LM log-likelihood ratio log p(ALT) - log p(REF), natural log"
TSV_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "llr", "n_tokens")


@dataclass(frozen=True)
class _Query:
    """One masked window to run: its token ids with `position` masked, and the (token id, sign) pairs to read."""

    variant: int
    ids: tuple[int, ...]
    position: int
    targets: tuple[tuple[int, int], ...]  # +1: alternative allele's token, -1: reference allele's


def context_window(contig_length: int, pos0: int, width: int, multiple: int = 1) -> tuple[int, int]:
    """[start, end) of the `width`-nt window centred on 0-based `pos0`, cut at the contig's ends.

    With `multiple` = k (codon models) the window is then shortened to a multiple of k nt on the side away from
    the variant, so the variant lies in a whole k-mer, never in the [UNK] tail that a remainder would become.
    """
    start, end = max(0, pos0 - width // 2), min(contig_length, pos0 - width // 2 + width)
    extra = (end - start) % multiple if end - start >= multiple else 0  # a contig shorter than k stays whole
    return (start, end - extra) if pos0 < end - extra else (start + extra, end)


def substitution_queries(lm, variant: int, ref_window: str, offset: int, alt: str) -> list[_Query]:
    """The masked windows whose log-probabilities make up the score of `alt` at `offset` of `ref_window`."""
    alt_window = ref_window[:offset] + alt + ref_window[offset + 1:]
    ref_ids, ref_spans = lm.encode(ref_window)
    alt_ids, alt_spans = lm.encode(alt_window)
    ref_tokens, alt_tokens = list(zip(ref_ids, ref_spans)), list(zip(alt_ids, alt_spans))
    prefix = 0
    while prefix < min(len(ref_tokens), len(alt_tokens)) and ref_tokens[prefix] == alt_tokens[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(ref_tokens), len(alt_tokens)) - prefix
           and ref_tokens[-1 - suffix] == alt_tokens[-1 - suffix]):
        suffix += 1
    ref_diff = range(prefix, len(ref_tokens) - suffix)
    alt_diff = range(prefix, len(alt_tokens) - suffix)
    if len(ref_diff) == len(alt_diff) == 1 and ref_spans[prefix] == alt_spans[prefix]:
        return [_Query(variant, _masked(ref_ids, prefix, lm.mask_token_id), prefix,
                       ((alt_ids[prefix], 1), (ref_ids[prefix], -1)))]
    return ([_Query(variant, _masked(alt_ids, t, lm.mask_token_id), t, ((alt_ids[t], 1),)) for t in alt_diff]
            + [_Query(variant, _masked(ref_ids, t, lm.mask_token_id), t, ((ref_ids[t], -1),)) for t in ref_diff])


def _masked(ids: Sequence[int], position: int, mask_id: int) -> tuple[int, ...]:
    return (*ids[:position], mask_id, *ids[position + 1:])


def score_queries(lm, queries: Sequence[_Query], n_variants: int, batch_size: int,
                  progress: bool = False) -> tuple[list[float], list[int]]:
    """Run the distinct masked windows `batch_size` at a time: each variant's score and how many tokens it summed.

    The 3 ALTs of one position (saturation mutagenesis, multi-allelic records) share one masked window when the
    masked marginal applies, so each distinct window runs once.
    """
    from tqdm.auto import tqdm

    windows = list(dict.fromkeys((q.ids, q.position) for q in queries))
    at_mask = {}  # (ids, position) -> (V,) log-probabilities at the masked token
    with tqdm(total=len(windows), unit="window", desc="score-variants", file=sys.stderr,
              disable=not progress) as bar:
        for first in range(0, len(windows), batch_size):
            batch = windows[first:first + batch_size]
            log_probs = lm.log_probs([ids for ids, _ in batch])  # (B, L, V)
            for row, key in enumerate(batch):
                at_mask[key] = log_probs[row, key[1]].clone()  # not a view: the (B, L, V) batch is freed
            bar.update(len(batch))
    scores, n_tokens = [0.0] * n_variants, [0] * n_variants
    for q in queries:
        for token, sign in q.targets:
            scores[q.variant] += sign * float(at_mask[q.ids, q.position][token])
            n_tokens[q.variant] += 1
    return scores, n_tokens


def score_snvs(lm, fasta, snvs: Sequence[SNV], window: int, batch_size: int = 16, vcf_path: str = "VCF",
               progress: bool = False) -> tuple[list[float], list[int]]:
    """LLR of every SNV against the reference `fasta` (a `FastaFile`); REF must match the FASTA."""
    queries = []
    for i, snv in enumerate(snvs):
        if snv.chrom not in fasta:
            raise GeneFinderInputError(f"CHROM {snv.chrom!r} is not a sequence of {fasta.path}", vcf_path, snv.line)
        length = fasta.length(snv.chrom)
        if snv.pos > length:
            raise GeneFinderInputError(f"POS {snv.pos} is past the end of {snv.chrom!r} ({length} nt)",
                                       vcf_path, snv.line)
        start, end = context_window(length, snv.pos - 1, window, lm.kmer)
        seq = fasta.fetch(snv.chrom, start, end).upper()
        if seq[snv.pos - 1 - start] != snv.ref:
            raise GeneFinderInputError(
                f"REF {snv.ref!r} does not match the FASTA base {seq[snv.pos - 1 - start]!r} at "
                f"{snv.chrom}:{snv.pos} ({fasta.path})", vcf_path, snv.line)
        queries += substitution_queries(lm, i, seq, snv.pos - 1 - start, snv.alt)
    return score_queries(lm, queries, len(snvs), batch_size, progress)


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="masked-LM model folder (GeneFinderForMaskedLM)")
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or .gz) the VCF was called against")
    parser.add_argument("--vcf", required=True, help="VCF (plain or .gz); every single-base ALT allele is scored")
    out = parser.add_argument_group("output (at least one)")
    out.add_argument("-o", "--output", help=f"TSV with columns {', '.join(TSV_COLUMNS)}")
    out.add_argument("--vcf-out", help=f"the input VCF with INFO {INFO_KEY} (Number=A; '.' for unscored alleles)")
    parser.add_argument("--window", type=int, help="context in nt centred on the variant (default: the model's "
                        "max_position_embeddings, in nucleotides)")
    parser.add_argument("--batch-size", type=int, default=16, help="masked windows per forward pass")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def run(args) -> None:
    from ..formats.atomic_output import atomic_path
    from ..formats.fasta import FastaFile
    from .mlm_inference import MaskedLMScorer
    from ..formats.vcf import SKIP_KINDS, read_snvs, write_annotated_vcf

    if not (args.output or args.vcf_out):
        raise GeneFinderInputError("give -o/--output (TSV) and/or --vcf-out (annotated VCF)")
    if args.vcf_out and args.vcf_out.endswith(".gz"):
        raise GeneFinderInputError("--vcf-out writes plain VCF; compress it afterwards with `bgzip`", args.vcf_out)
    if args.batch_size < 1 or (args.window is not None and args.window < 1):
        raise GeneFinderInputError("--batch-size and --window must be positive")
    snvs, skipped = read_snvs(args.vcf)
    if sum(skipped.values()):
        counts = ", ".join(f"{skipped[k]} {k}" for k in SKIP_KINDS if skipped[k])
        logger.warning("%s: skipped %d ALT alleles that are not single-nucleotide variants (%s)",
                       args.vcf, sum(skipped.values()), counts)
    lm = MaskedLMScorer.from_folder(args.model, args.device)
    window = args.window or lm.default_window
    scores, n_tokens = score_snvs(lm, FastaFile(args.fasta), snvs, window, args.batch_size, args.vcf,
                                  progress=True)
    if args.output:
        with atomic_path(args.output) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write("\t".join(TSV_COLUMNS) + "\n")
            for snv, llr, n in zip(snvs, scores, n_tokens):
                fh.write(f"{snv.chrom}\t{snv.pos}\t{snv.id}\t{snv.ref}\t{snv.alt}\t{llr:.6g}\t{n}\n")
    if args.vcf_out:
        by_allele = {(snv.line, snv.allele): llr for snv, llr in zip(snvs, scores)}
        with atomic_path(args.vcf_out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            write_annotated_vcf(args.vcf, fh, by_allele, INFO_KEY, INFO_DESCRIPTION)
    logger.info("scored %d SNVs (window %d nt)", len(snvs), window)
