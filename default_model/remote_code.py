"""The `.py` files a model folder carries for `trust_remote_code`, and writing them flat.

transformers loads remote code from one flat folder and resolves each relative import as a sibling file
(`from .fasta import X` -> `fasta.py` beside it), while the package keeps its modules in folders by concern.
So a folder gets every file of a list below under its basename, with its relative imports rewritten to
siblings: `from ..formats.fasta import X` -> `from .fasta import X` (as transformers generates flat
`modeling_*.py` files from modular ones). The lists are written out, not discovered at save time, and the
tests check each against the import closure of its entry points, so a new import shows up as a failing test
and a one-line change here.

This file is itself remote code (the models' `save_pretrained` imports it): it imports only the standard
library, and inside a model folder it copies its flat siblings.
"""

from __future__ import annotations

import re
from pathlib import Path

# The gene finders, bacterial and eukaryotic: the files `pipeline("gene-finding", model=FOLDER,
# trust_remote_code=True)` and the Auto classes named by config.json / tokenizer_config.json import, as paths
# inside the package. One set serves both kinds of folder, since the pipeline reads either.
HUB_ENTRY_POINTS = ("configuration_genefinder.py", "modeling_genefinder.py", "tokenization_gff.py",
                    "pipeline_genefinder.py", "processing_genefinder.py", "models/configuration_gene_structure.py",
                    "models/modeling_gene_structure.py")
HUB_FILES = (
    "configuration_genefinder.py", "modeling_genefinder.py", "tokenization_gff.py", "pipeline_genefinder.py",
    "processing_genefinder.py",
    "annotation/annotation.py", "annotation/gene_structure_annotation.py",
    "decoding/grammar.py", "decoding/orf_decoding.py", "decoding/orfs.py", "decoding/strands.py",
    "decoding/genetic_code.py", "decoding/coding_frames.py", "decoding/gene_structure_viterbi.py",
    "decoding/splice_sites.py",
    "formats/errors.py", "formats/fasta.py", "formats/features.py", "formats/gff3.py", "formats/windows.py",
    "hub/remote_code.py",
    "models/configuration_encoders.py", "models/modeling_encoders.py", "models/modeling_rope.py",
    "models/configuration_gene_structure.py", "models/modeling_gene_structure.py",
    "prokaryotes/coding_library.py", "prokaryotes/genetic_code_choice.py", "prokaryotes/self_training.py",
    "prokaryotes/start_sites.py",
    "tokenization/tokenization_dna.py",
)

# An encoder alone (masked LM, sequence classifier): config.json's ENCODER_AUTO_MAP and its DNA tokenizer.
ENCODER_ENTRY_POINTS = ("models/modeling_genefinder_encoder.py", "tokenization/tokenization_dna.py")
ENCODER_FILES = (
    "models/modeling_genefinder_encoder.py", "models/configuration_encoders.py", "models/modeling_encoders.py",
    "models/modeling_rope.py", "tokenization/tokenization_dna.py", "decoding/genetic_code.py", "formats/errors.py",
    "hub/remote_code.py",
)

HERE = Path(__file__).resolve().parent
RELATIVE_IMPORT = re.compile(r"^(\s*from\s+)\.+((?:\w+\.)*)(\w+)(\s+import\b)", re.M)


def flat_source(text: str) -> str:
    """A module's source with each relative import pointing at a sibling file of the same basename."""
    return RELATIVE_IMPORT.sub(lambda m: f"{m.group(1)}.{m.group(3)}{m.group(4)}", text)


def source_file(path: str) -> Path:
    """The package's file at `path`; inside a flat model folder, the sibling of that basename."""
    packaged = HERE.parent / path
    return packaged if packaged.is_file() else HERE / Path(path).name


def write_remote_code(folder: str | Path, files: tuple[str, ...] = HUB_FILES) -> list[Path]:
    """Write `files` flat into `folder` (basenames must be unique); return the paths written."""
    names = [Path(p).name for p in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"remote-code basenames must be unique in a flat folder: {duplicates}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, name in zip(files, names):
        target = folder / name
        if target.is_symlink():
            target.unlink()
        target.write_text(flat_source(source_file(path).read_text(encoding="utf-8")), encoding="utf-8")
        written.append(target)
    return written
