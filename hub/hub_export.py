"""`genefinder export RUN_DIR/checkpoint-N OUT_DIR`: a training checkpoint -> a self-contained Hub model folder.

(A eukaryotic gene-structure checkpoint is exported by gene_structure_export.py, chosen from its config.json.)

The folder holds what `from_pretrained(..., trust_remote_code=True)` needs and nothing of the training state:

- `model.safetensors`, `config.json` (with `auto_map` for AutoConfig / AutoModel / AutoModelForSeq2SeqLM),
  `generation_config.json` and the remote code: the package's modules of hub/remote_code.py's HUB_FILES,
  written flat (`model.save_pretrained` does it);
- the GFF tokenizer (`gff_vocab.json`, `tokenizer_config.json` with its own `auto_map` for AutoTokenizer);
- `dna_tokenizer/` when the encoder is BPE (`dnabert2`): the vocabulary the model was trained with, loadable
  with `tokenization_dna.load_dnabert2_tokenizer(folder / "dna_tokenizer")`;
- `README.md`: the repository's model_card.md with a "Training run" section filled from the checkpoint's
  trainer_state.json, the run's train_config.yaml and metrics.jsonl. Only numbers the run measured are
  written; the template's "no trained weights" note is dropped, and gene-level accuracy is stated as not
  measured until `genefinder evaluate` is wired into training.

`--results FILE.md` puts a held-out evaluation (a section `benchmarks/baselines.py` wrote, scored by
`genefinder evaluate` beside Prodigal and Augustus in the same run) into the card, before "## Intended use".

`genefinder export --refresh-code FOLDER` rewrites an existing folder's `.py` files from the package: the
first file set holding every module its config.json `auto_map` names, flat, and no other `.py` file. The
repository's embedded default model (`default_model/`) holds such real copies; a test keeps them equal to a
fresh export.

The folder is built aside and renamed at the end, so a failed export leaves nothing behind.
`genefinder push-to-hub OUT_DIR REPO_ID` (hub_push.py) uploads it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from ..formats.errors import GeneFinderInputError, require_file
from .gene_structure_export import export as export_gene_structure
from .gene_structure_export import is_gene_structure
from .remote_code import ENCODER_ENTRY_POINTS, ENCODER_FILES, HUB_ENTRY_POINTS, HUB_FILES, write_remote_code

MODEL_CARD = Path(__file__).resolve().parents[1] / "model_card.md"
TEMPLATE_NOTE = "This file becomes the README.md"  # marks the template-only note of model_card.md


# (entry points, files) of each kind of model folder; a new kind of model is one more pair
REMOTE_CODE_SETS = ((HUB_ENTRY_POINTS, HUB_FILES), (ENCODER_ENTRY_POINTS, ENCODER_FILES))


def export(checkpoint: str | Path, out_dir: str | Path, results: str | Path | None = None) -> list[Path]:
    """Write the Hub folder for `checkpoint` to `out_dir` (which must not exist); return the files written."""
    from ..modeling_genefinder import GeneFinderForConditionalGeneration
    from ..tokenization_gff import GFFTokenizer

    ckpt, out = Path(checkpoint), Path(out_dir)
    for name in ("config.json", "model.safetensors"):
        if not (ckpt / name).is_file():
            raise GeneFinderInputError(f"no {name} here; give a RUN_DIR/checkpoint-N folder written by train.py",
                                       str(ckpt))
    if out.exists():
        raise GeneFinderInputError("output directory already exists; remove it or choose another", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model = GeneFinderForConditionalGeneration.from_pretrained(ckpt)
        if model.config.trained_window is None:  # checkpoints from before train.py recorded it
            model.config.trained_window = _dataset_window(ckpt)
        model.save_pretrained(tmp, safe_serialization=True)  # with the remote code, flat
        GFFTokenizer().save_pretrained(tmp)
        if (ckpt / "dna_tokenizer").is_dir():
            shutil.copytree(ckpt / "dna_tokenizer", tmp / "dna_tokenizer")
        (tmp / "README.md").write_text(model_card(ckpt, results), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(p for p in out.rglob("*") if p.is_file())


def _dataset_window(checkpoint: Path) -> int | None:
    """Longest training window of the run's dataset (trainer_state.json names it), if it is still there."""
    state_file = checkpoint / "trainer_state.json"
    dataset = json.loads(state_file.read_text()).get("dataset") if state_file.is_file() else None
    if not dataset or not Path(dataset).is_dir():
        return None
    import datasets

    return max(datasets.load_from_disk(dataset)["train"]["length"])


def code_set(folder: Path) -> tuple[str, ...]:
    """The remote-code files a model folder needs: the first set holding every module its config.json
    `auto_map` names."""
    config = folder / "config.json"
    require_file(config, "model folder's config")
    auto_map = json.loads(config.read_text()).get("auto_map", {})
    modules = {f"{ref.split('.')[0]}.py" for ref in auto_map.values()}
    for _, files in REMOTE_CODE_SETS:
        if modules and modules <= {Path(p).name for p in files}:
            return files
    raise GeneFinderInputError(f"auto_map names {sorted(modules)}: no remote-code set of this package holds them",
                               str(config))


def refresh_code(folder: str | Path) -> list[Path]:
    """Rewrite `folder`'s remote code from the package (flat), removing `.py` files not in its set."""
    folder = Path(folder)
    files = code_set(folder)
    keep = {Path(p).name for p in files}
    for stale in folder.glob("*.py"):
        if stale.name not in keep:
            stale.unlink()
    return write_remote_code(folder, files)


def run_summary(checkpoint: Path) -> dict:
    """What the run measured, from the checkpoint and its run directory (missing pieces are left out)."""
    state_file = checkpoint / "trainer_state.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    run_dir = checkpoint.parent
    cfg = {}
    if (run_dir / "train_config.yaml").is_file():
        cfg = yaml.safe_load((run_dir / "train_config.yaml").read_text()) or {}
    last_train = None
    if (run_dir / "metrics.jsonl").is_file() and state:
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            rec = json.loads(line) if line.strip() else {}
            if rec.get("kind") == "train" and rec["step"] <= state["step"]:
                last_train = rec
    return {"state": state, "config": cfg, "last_train": last_train}


def model_card(checkpoint: Path, results: str | Path | None = None) -> str:
    """model_card.md with its template note removed, a "Training run" section of measured numbers and, when
    given, the held-out evaluation `results` (markdown)."""
    template = MODEL_CARD.read_text(encoding="utf-8") if MODEL_CARD.is_file() else "# genefinder model\n"
    paragraphs = template.split("\n\n")
    paragraphs = [p for p in paragraphs if not (p.lstrip().startswith(">") and TEMPLATE_NOTE in p)]
    sections = [training_section(run_summary(checkpoint))]
    if results is not None:
        path = Path(results)
        require_file(path, "--results")
        # one heading level down, so the file's title becomes a section of the card
        sections.append(re.sub(r"^(#+) ", r"#\1 ", path.read_text(encoding="utf-8").strip(), flags=re.M))
    for i, p in enumerate(paragraphs):
        if p.startswith("## Intended use"):
            paragraphs[i:i] = sections
            break
    else:
        paragraphs.extend(sections)
    return "\n\n".join(paragraphs).rstrip() + "\n"


def training_section(summary: dict) -> str:
    state, cfg, last = summary["state"], summary["config"], summary["last_train"]
    rows = []

    def row(name, value):
        if value is not None:
            rows.append(f"| {name} | {value} |")

    model = cfg.get("model", {})
    enc = model.get("encoder_config", {})
    if enc:
        row("encoder", f"{enc.get('encoder_type')} ({enc.get('num_hidden_layers')} layers, "
                       f"width {enc.get('hidden_size')})")
    if model:
        row("decoder", f"{model.get('decoder_layers')} layers, width {model.get('d_model')}")
    row("parameters", f"{state['parameters']:,}" if "parameters" in state else None)
    row("stage", state.get("stage"))
    if cfg.get("init_from"):  # the table covers this run only; earlier phases trained the weights it started from
        row("started from", f"`{cfg['init_from']}` ({cfg.get('init_from_part', 'decoder')}): the rows below are this "
                            "run's alone, not the earlier runs'")
    row("dataset", f"`{state['dataset']}`" if "dataset" in state else None)
    if state:
        row("optimizer steps", f"{state['step']:,} of {state['max_steps']:,}")
        row("windows seen", f"{state['consumed_windows']:,}")
        row("nucleotides seen", f"{state['nucleotides_seen']:,}")
        seconds = state["train_seconds"] + state["eval_seconds"]
        row("hardware", f"{state['processes']} x {state['device']}, mixed precision {state['mixed_precision']}")
        row("wall time", f"{seconds / 3600:.2f} h ({state['eval_seconds'] / max(seconds, 1e-9):.1%} in evaluation)")
    if cfg:
        row("recipe", f"AdamW (betas {cfg.get('adam_beta1')}/{cfg.get('adam_beta2')}), peak lr {cfg.get('lr')}, "
                      f"{cfg.get('warmup_steps')} warm-up steps, cosine to {cfg.get('min_lr_ratio')} x peak, "
                      f"weight decay {cfg.get('weight_decay')}, clip {cfg.get('grad_clip')}, "
                      f"batch {cfg.get('batch_size')} windows")
    if last:
        row(f"training loss (step {last['step']})", f"{last['loss']:.4f}")
    ev = state.get("last_eval") or {}
    if ev:
        row(f"validation loss (step {ev['step']}, {ev['windows']} windows)", f"{ev['loss']:.4f}")
        row("validation token accuracy (teacher forcing)", f"{ev['token_accuracy']:.4f}")
        if "coding_accuracy" in ev:
            row("validation coding-frame accuracy (per nucleotide)", f"{ev['coding_accuracy']:.4f}")
    body = "\n".join(["| | |", "|---|---|", *rows])
    return ("## Training run\n\nMeasured by `train.py` for the weights in this folder (from its trainer_state.json, "
            "train_config.yaml and metrics.jsonl):\n\n" + body)


# ---------------------------------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", help="RUN_DIR/checkpoint-N written by train.py")
    parser.add_argument("out_dir", nargs="?", help="the Hub folder to write (must not exist)")
    parser.add_argument("--results", help="markdown of a held-out evaluation to put in the model card")
    parser.add_argument("--splice-sites", help="gene-structure checkpoints: splice_sites.json to ship with the model "
                        "(training/splice_site_training.py)")
    parser.add_argument("--refresh-code", metavar="FOLDER",
                        help="instead of exporting, rewrite FOLDER's remote-code .py files from the package")


def run(args) -> None:
    if args.refresh_code:
        if args.checkpoint or args.out_dir or args.results:
            raise GeneFinderInputError("--refresh-code takes only the model folder", args.refresh_code)
        files, out = refresh_code(args.refresh_code), args.refresh_code
    elif args.checkpoint and args.out_dir and is_gene_structure(args.checkpoint):
        files, out = export_gene_structure(args.checkpoint, args.out_dir, args.results, args.splice_sites), args.out_dir
    elif args.checkpoint and args.out_dir:
        if args.splice_sites:
            raise GeneFinderInputError("--splice-sites is for gene-structure checkpoints", args.checkpoint)
        files, out = export(args.checkpoint, args.out_dir, args.results), args.out_dir
    else:
        raise GeneFinderInputError("give CHECKPOINT and OUT_DIR, or --refresh-code FOLDER", "export")
    for f in files:
        print(f)
    print(f"wrote {len(files)} files to {out}")
