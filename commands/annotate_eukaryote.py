"""`genefinder annotate --eukaryote GENOME.fa`: the gene-structure model over every record, to GFF3 (+ FASTA).

Records are annotated one at a time, whole (annotation/gene_structure_annotation.py). Each finished record's
genes are appended as one JSON line to `OUT.partial.0.jsonl`; `--resume` skips the records found there, so an
interrupted run over a large genome continues where it stopped. The outputs are written to temporary files and
renamed into place at the end, as for bacteria.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from ..formats.errors import GeneFinderInputError
from ..formats.fasta import FastaFile
from ..formats.features import genes_from_rows, genes_to_rows

DEFAULT_EUKARYOTE_MODEL = Path(__file__).resolve().parents[1] / "default_model_eukaryote"
GENE_STRUCTURE_MODEL_TYPE = "genefinder_gene_structure"


def model_type(path: str | Path) -> str | None:
    """config.json's `model_type` of a model folder (None when there is no readable config)."""
    config = Path(path) / "config.json"
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


def load_gene_structure_model(path: str | Path | None, device: str):
    """The gene-structure model of a folder (default: the bundled eukaryotic model), with one-line errors."""
    path = Path(path) if path is not None else DEFAULT_EUKARYOTE_MODEL
    if not path.is_dir():
        raise GeneFinderInputError("model folder not found", str(path))
    missing = [f for f in ("config.json", "model.safetensors") if not (path / f).is_file()]
    if missing:
        raise GeneFinderInputError(f"model folder is missing {', '.join(missing)}", str(path))
    if model_type(path) != GENE_STRUCTURE_MODEL_TYPE:
        raise GeneFinderInputError(f"config.json is for a {model_type(path)!r} model, not a eukaryotic gene-structure "
                                   f"model ({GENE_STRUCTURE_MODEL_TYPE!r})", str(path / "config.json"))
    from ..decoding.splice_sites import SPLICE_SITES_FILE, SpliceSiteScorers
    from ..models.modeling_gene_structure import GeneStructureForTokenClassification

    try:
        model = GeneStructureForTokenClassification.from_pretrained(path)
    except Exception as err:  # a damaged weight file or config: one line naming the folder, not a traceback
        raise GeneFinderInputError(f"cannot load the gene-structure model: {err}", str(path)) from None
    sites = path / SPLICE_SITES_FILE
    try:
        model.splice_sites = SpliceSiteScorers.load(sites) if sites.is_file() else None
    except (ValueError, KeyError, TypeError) as err:
        raise GeneFinderInputError(f"cannot read the splice-site scorers: {err}", str(sites)) from None
    return model.to(device).eval()


def read_done(partial: Path) -> dict[str, list[dict]]:
    """Genes (as rows) of the records a `--resume`d run finished, by record name."""
    done = {}
    if partial.is_file():
        for line in partial.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the interruption: that record is simply redone
            done[entry["seqid"]] = entry["genes"]
    return done


def run_gene_structure_annotation(args, pragmas_for, write_outputs) -> None:
    """Annotate `args.genome` with the gene-structure model; `write_outputs(args, fa, genes, pragmas)` writes."""
    import torch
    from tqdm.auto import tqdm

    from ..annotation.gene_structure_annotation import GeneStructureAnnotator, decoding_params

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    fa = FastaFile(args.genome)
    model = load_gene_structure_model(args.model, device)
    try:
        annotator = GeneStructureAnnotator(model, decoding_params(model, **dict(args.settings)),
                                           batch_size=args.batch_size)
    except ValueError as err:
        raise GeneFinderInputError(str(err), args.model or str(DEFAULT_EUKARYOTE_MODEL)) from None
    out = Path(args.output)
    partial = out.parent / f"{out.name}.partial.0.jsonl"
    done = read_done(partial) if args.resume else {}
    if not args.resume:
        partial.unlink(missing_ok=True)
    bar = tqdm(total=sum(fa.length(n) for n in fa.names), unit="nt", unit_scale=True,
               desc="annotate (gene structure, nt)", file=sys.stderr)
    with open(partial, "a", encoding="utf-8") as log:
        os.chmod(partial, 0o600)
        for name in fa.names:
            if name in done:
                bar.update(fa.length(name))
                continue
            genes = annotator.annotate(name, fa.fetch(name, 0, fa.length(name)), progress=bar.update)
            done[name] = genes_to_rows(genes)
            log.write(json.dumps({"seqid": name, "genes": done[name]}) + "\n")
            log.flush()
    bar.close()
    # rows keep no seqid or transcript score: one gene model per gene, whose score is the transcript's
    genes = [replace(g, seqid=name, transcripts=tuple(replace(t, score=g.score) for t in g.transcripts))
             for name in fa.names for g in genes_from_rows(done[name])]
    write_outputs(args, fa, genes, pragmas_for(annotator.provenance()))
    partial.unlink()
