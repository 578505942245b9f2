"""Zero-shot uses of a masked LM on E. coli: every SNV of a region scored, and a dependency map -> docs/results/.

    .venv/bin/python experiments/encoder_uses/zero_shot_demo.py --model MLM_DIR [--note "how it was trained"]

writes `docs/results/variant_effects.md` (the table below, the commands, the model's size) and `docs/results/dependency_map.png`.
It trains nothing: plug in any `GeneFinderForMaskedLM` folder (a checkpoint of `train.py` stage mlm), or
`--model random` for the seeded random-weight baseline (4 layers x 64, AIDO-style) that every trained model's
table and map should be read against.

1. Variant effects. All 3 substitutions at every position of `--scan-region` (default: E. coli thrL..thrA,
   NC_000913.3:190-1189) go into a VCF with the genome's true REF; `genefinder score-variants` scores them, and
   the table groups the LLRs by what the annotation says each SNV does: codon position 1/2/3 inside a CDS,
   synonymous / missense / nonsense, or outside every CDS. A model that has learnt coding sequence should
   penalise nonsense and missense changes (LLR < 0) more than synonymous ones and third codon positions; a
   random model shows no difference, which is the baseline this table is read against.
2. Dependency map. `genefinder dependency-map` over `--map-region` (default NC_000913.3:241-340: the end of thrL,
   the thr attenuator terminator, whose stem GCCCGCAC (280-287) pairs with GTGCGGGC (294-301), the
   Shine-Dalgarno site and the thrA start codon at 337). A model that has learnt RNA structure shows the stem's
   base pairs as an anti-diagonal off the main diagonal (Tomaz da Silva et al. 2024, Fig. 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from genefinder import cli
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.evaluation.evaluation import parse_region
from genefinder.evaluation.machine_info import cpu_model
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3

ROOT = Path(__file__).resolve().parents[2]
ECOLI = ROOT.parent / "shared" / "data" / "ecoli_k12_mg1655"
COMPLEMENT = str.maketrans("ACGT", "TGCA")
CLASSES = ("nonsense", "missense", "synonymous", "codon position 1", "codon position 2", "codon position 3",
           "outside CDS")


def coding_positions(genes, seqid: str) -> dict[int, tuple[str, list[int], int]]:
    """1-based position -> (strand, the transcript's coding positions in 5'->3' order, index in that list)."""
    where = {}
    for gene in genes:
        coding = next((t for t in gene.transcripts if t.cds), None)
        if gene.seqid != seqid or coding is None:
            continue
        parts = sorted(coding.cds, reverse=gene.strand == "-")
        positions = [p for c in parts for p in (range(c.start, c.end + 1) if gene.strand == "+"
                                                  else range(c.end, c.start - 1, -1))][parts[0].phase:]
        for k, p in enumerate(positions):
            where.setdefault(p, (gene.strand, positions, k))
    return where


def snv_classes(pos: int, alt: str, fasta: FastaFile, seqid: str, coding: dict, code: GeneticCode) -> list[str]:
    if pos not in coding:
        return ["outside CDS"]
    strand, positions, k = coding[pos]
    first = k - k % 3
    if first + 3 > len(positions):
        return []  # a trailing partial codon
    codon = [fasta.fetch(seqid, p - 1, p).upper() for p in positions[first:first + 3]]
    if strand == "-":
        codon, alt = [b.translate(COMPLEMENT) for b in codon], alt.translate(COMPLEMENT)
    mutated = codon[:k % 3] + [alt] + codon[k % 3 + 1:]
    before, after = code.translate("".join(codon)), code.translate("".join(mutated))
    effect = "synonymous" if before == after else "nonsense" if after == "*" else "missense"
    return [effect, f"codon position {k % 3 + 1}"]


RANDOM_NOTE = ("**Random weights** (`--model random`: seeded initialisation, no training; MODEL_DIR below is its "
               "temporary folder): the baseline, with LLRs near 0 in every class and a map without structure. "
               "Read a trained model's table against this one: SNV classes differ in the bases they create "
               "(every nonsense SNV makes a T or an A of TAA/TAG/TGA), so a model's base preferences alone "
               "shift class means.")


def save_random_model(folder: Path) -> str:
    from genefinder.models.configuration_encoders import GeneFinderEncoderConfig
    from genefinder.models.modeling_genefinder_encoder import GeneFinderForMaskedLM

    torch.manual_seed(0)
    config = GeneFinderEncoderConfig(encoder_type="aido", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                                     intermediate_size=256, max_position_embeddings=1024)
    GeneFinderForMaskedLM(config).save_pretrained(folder)
    return str(folder)


def run(args, tmp: str) -> int:
    out = Path(args.out_dir)
    region, fasta = parse_region(args.scan_region), FastaFile(args.fasta)
    seq = fasta.fetch(region.seqid, region.start - 1, region.end).upper()
    vcf, tsv = Path(tmp) / "all_snvs.vcf", Path(tmp) / "llr.tsv"
    lines = [f"{region.seqid}\t{region.start + i}\t.\t{ref}\t{alt}\t.\t.\t."
             for i, ref in enumerate(seq) for alt in "ACGT" if alt != ref and ref in "ACGT"]
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(lines) + "\n")
    score_cmd = ["score-variants", "--model", args.model, "--fasta", args.fasta, "--vcf", str(vcf), "-o", str(tsv),
                 "--window", str(args.window), "--batch-size", "32"]
    started = time.perf_counter()
    if cli.main(score_cmd):
        return 1
    seconds = {"score": time.perf_counter() - started}
    rows = [r.split("\t") for r in tsv.read_text().splitlines()[1:]]
    genes, _ = read_gff3(args.gff)
    coding, code = coding_positions(genes, region.seqid), GeneticCode(11)
    by_class = {c: [] for c in CLASSES}
    for _, pos, _, _, alt, llr, _ in rows:
        for c in snv_classes(int(pos), alt, fasta, region.seqid, coding, code):
            by_class[c].append(float(llr))
    map_cmd = ["dependency-map", "--model", args.model, "--fasta", args.fasta, "--region", args.map_region,
               "-o", str(out / "dependency_map.png"), "--title", f"{args.map_region}, model: {args.label}"]
    started = time.perf_counter()
    if cli.main(map_cmd):
        return 1
    seconds["map"] = time.perf_counter() - started
    shown = [show(cmd, tmp) for cmd in (score_cmd, map_cmd)]
    (out / "variant_effects.md").write_text(report(args, by_class, len(rows), seconds, *shown), encoding="utf-8")
    return 0


def show(cmd: list[str], tmp: str) -> str:
    """The command as a user types it: files in `tmp` by base name, other paths relative to the repository."""
    def arg(a: str) -> str:
        if a.startswith(tmp):
            return "MODEL_DIR" if a.endswith("random-mlm") else Path(a).name
        return os.path.relpath(a, ROOT) if os.path.isabs(a) and a.startswith(str(ROOT.parent)) else a
    return ".venv/bin/genefinder " + " ".join(shlex.quote(arg(a)) for a in cmd)


def report(args, by_class: dict[str, list[float]], n: int, seconds: dict[str, float], score_cmd: str,
           map_cmd: str) -> str:
    config = json.loads((Path(args.model) / "config.json").read_text())
    from genefinder.models.modeling_genefinder_encoder import GeneFinderForMaskedLM

    params = sum(p.numel() for p in GeneFinderForMaskedLM.from_pretrained(args.model).parameters())
    table = ["| SNV class | SNVs | mean LLR | median LLR | LLR < 0 |", "|---|---:|---:|---:|---:|"]
    for c, values in by_class.items():
        if values:
            table.append(f"| {c} | {len(values):,} | {statistics.fmean(values):+.3f} | "
                         f"{statistics.median(values):+.3f} | {sum(v < 0 for v in values) / len(values):.0%} |")
    return f"""# Zero-shot variant effects and dependency maps

Produced by `.venv/bin/python experiments/encoder_uses/zero_shot_demo.py --model {args.label}` (the script's
docstring says what each part tests). Model: `{args.label}`, {config['encoder_type']} encoder (kmer
{config.get('kmer', 1)}), {config['num_hidden_layers']} layers x {config['hidden_size']} hidden, {params:,} parameters.
Wall time on {cpu_model()}, one thread (CPU, fp32, model loading included): score-variants {seconds['score']:.0f} s
({n / seconds['score']:.0f} SNVs/s), dependency map {seconds['map']:.0f} s.

{args.note}

## Variant effects: every SNV of {args.scan_region} ({n:,} SNVs, {args.window}-nt context)

LLR = log p(ALT) - log p(REF) at the masked variant (natural log); negative = the model prefers the reference.
Classes from the NCBI annotation (a coding SNV counts once by effect and once by codon position):

{chr(10).join(table)}

```bash
{score_cmd}
```

## Dependency map of {args.map_region}

![dependency map](dependency_map.png)

```bash
{map_cmd}
```

Row i = substituted position, column j = position whose predicted distribution is read (not masked); each
cell is the largest absolute change of a base's log-odds at j over the 3 substitutions at i (diagonal set
to 0). The default region holds the thr attenuator terminator: its stem GCCCGCAC (280-287) pairs with GTGCGGGC
(294-301), which a model that has learnt RNA structure shows as an anti-diagonal block.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="GeneFinderForMaskedLM folder (single-nucleotide for the map)")
    parser.add_argument("--note", default="", help="how the model was trained, quoted in the doc")
    parser.add_argument("--fasta", default=str(ECOLI / "genome.fna.gz"))
    parser.add_argument("--gff", default=str(ECOLI / "annotation.gff3.gz"))
    parser.add_argument("--scan-region", default="NC_000913.3:190-1189")
    parser.add_argument("--map-region", default="NC_000913.3:241-340")
    parser.add_argument("--window", type=int, default=512, help="score-variants context (nt)")
    parser.add_argument("--out-dir", default=str(ROOT / "docs" / "results"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread: the demo's timings compare across machines and leave other cores free
    args.label = args.model
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "random":
            args.model, args.note = save_random_model(Path(tmp) / "random-mlm"), RANDOM_NOTE
        return run(args, tmp)


if __name__ == "__main__":
    sys.exit(main())
