"""`genefinder export CHECKPOINT OUT_DIR` for a gene-structure checkpoint: the eukaryotic Hub model folder.

CHECKPOINT is a `save_pretrained` folder of `GeneStructureForTokenClassification` (a training run's
`best/model/` or `checkpoint/model/`, training/gene_structure_training.py). The folder written holds
`model.safetensors`, `config.json` (auto_map, custom_pipelines, the tuned `decoding` penalties), the flat remote
code, `splice_sites.json` when `--splice-sites` gives one (training/splice_site_training.py), and `README.md`:
model_card_eukaryote.md with a "Training run" section from the run's metrics.jsonl (the step of the exported
weights and its validation scores) and, with `--results`, a held-out evaluation that benchmarks/baselines.py
wrote. Built aside and renamed at the end, as the bacterial export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..formats.errors import GeneFinderInputError, require_file

MODEL_CARD = Path(__file__).resolve().parents[1] / "model_card_eukaryote.md"
SCORES = (("cds_nt_f1", "CDS-nucleotide F1 (per-base classes)"), ("decoded/base_f1", "decoded base F1"),
          ("decoded/exon_f1", "decoded exon F1"), ("decoded/gene_f1", "decoded gene F1"))


def is_gene_structure(checkpoint: str | Path) -> bool:
    config = Path(checkpoint) / "config.json"
    try:
        return json.loads(config.read_text()).get("model_type") == "genefinder_gene_structure"
    except (OSError, ValueError):
        return False


def training_section(checkpoint: Path) -> str:
    """The run's settings and the validation scores of the exported step, from RUN_DIR/metrics.jsonl."""
    run_dir = checkpoint.parent.parent  # RUN_DIR/best/model
    settings_file, metrics_file = run_dir / "config.json", run_dir / "metrics.jsonl"
    if not (settings_file.is_file() and metrics_file.is_file()):
        return "## Training run\n\nNot recorded: the checkpoint is not inside a training run directory.\n"
    settings = json.loads(settings_file.read_text())
    evals = [json.loads(line) for line in metrics_file.read_text().splitlines() if '"kind": "eval"' in line]
    config = json.loads((checkpoint / "config.json").read_text())
    best = max(evals, key=lambda e: e.get("cds_nt_f1", 0.0)) if evals else None
    rows = [("sources (sampling weight)", ", ".join(f"{k} {v:g}" for k, v in settings["sources"].items())),
            ("mixer", f"{config['mixer']}, hidden {config['hidden_size']}, {config['num_mixer_layers']} layers"),
            ("window x batch", f"{settings['window']:,} nt x {settings['batch_size']}"),
            ("steps planned", f"{settings['max_steps']:,}"), ("peak learning rate", f"{settings['lr']:g}")]
    if best is not None:
        rows.append(("exported step (best validation CDS-nt F1)", f"{best['step']:,}"))
        rows += [(label, f"{best[key]:.3f}") for key, label in SCORES if key in best]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return ("## Training run\n\nFrom the run's config.json and metrics.jsonl "
            "(training/gene_structure_training.py; validation: A. thaliana chr1 22,000,001-25,000,000):\n\n"
            f"| | |\n|---|---|\n{table}\n")


def export(checkpoint: str | Path, out_dir: str | Path, results: str | Path | None = None,
           splice_sites: str | Path | None = None) -> list[Path]:
    from ..decoding.splice_sites import SPLICE_SITES_FILE, SpliceSiteScorers
    from ..models.modeling_gene_structure import GeneStructureForTokenClassification

    ckpt, out = Path(checkpoint), Path(out_dir)
    require_file(ckpt / "model.safetensors", "gene-structure weights")
    if out.exists():
        raise GeneFinderInputError("output directory already exists; remove it or choose another", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        GeneStructureForTokenClassification.from_pretrained(ckpt).save_pretrained(tmp)
        if splice_sites is not None:
            require_file(splice_sites, "--splice-sites")
            SpliceSiteScorers.load(splice_sites)  # a damaged file fails here, not at annotation time
            shutil.copy(splice_sites, tmp / SPLICE_SITES_FILE)
        card = MODEL_CARD.read_text(encoding="utf-8") if MODEL_CARD.is_file() else "# genefinder eukaryotic model\n"
        sections = [training_section(ckpt)]
        if results is not None:
            require_file(results, "--results")
            sections.append(re.sub(r"^(#+) ", r"#\1 ", Path(results).read_text(encoding="utf-8").strip(), flags=re.M))
        marker = "## Intended use"
        card = card.replace(marker, "\n\n".join(sections) + "\n\n" + marker) if marker in card \
            else card.rstrip() + "\n\n" + "\n\n".join(sections)
        (tmp / "README.md").write_text(card.rstrip() + "\n", encoding="utf-8")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(p for p in out.rglob("*") if p.is_file())
