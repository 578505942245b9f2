"""Real-data helpers for tests: paths into ../shared/data (or GENEFINDER_SHARED_DATA) and ../shared/reference beside
it, skipping a test when they are missing, and small slices written to tmp dirs."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("GENEFINDER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REFERENCE = DATA.parent / "reference"  # published files the tests compare against (the DNABERT-2 tokenizer)


def genome(name: str) -> tuple[Path, Path]:
    d = DATA / name
    if not d.exists():
        pytest.skip(f"{d} not found (../shared/data is needed for real-data tests)")
    return d / "genome.fna.gz", d / "annotation.gff3.gz"


def reference(*parts: str) -> Path:
    """A file or folder under REFERENCE; skips the test when it is not there."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found (../shared/reference is needed for this test)")
    return path


def write_slice(tmp_path: Path, name: str, seqid: str, length: int) -> tuple[Path, Path]:
    """The first `length` nt of one record and the GFF3 lines of genes lying wholly inside, as plain files."""
    fasta, gff = genome(name)
    seq, keep = [], False
    with gzip.open(fasta, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if keep:
                    break
                keep = line[1:].split()[0] == seqid
            elif keep:
                seq.append(line.strip())
                if sum(map(len, seq)) >= length:
                    break
    s = "".join(seq)[:length]
    out_fa = tmp_path / f"{name}_{seqid}_{length}.fa"
    out_fa.write_text(f">{seqid}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    # keep genes (and their children) whose gene line ends inside the slice
    lines, inside = [], set()
    with gzip.open(gff, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 9 or cols[0] != seqid:
                continue
            attrs = dict(kv.split("=", 1) for kv in cols[8].split(";") if "=" in kv)
            parents = attrs.get("Parent", "").split(",")
            if int(cols[4]) <= length and (not attrs.get("Parent") or any(p in inside for p in parents)):
                if "ID" in attrs:
                    inside.add(attrs["ID"])
                lines.append(line)
    out_gff = tmp_path / f"{name}_{seqid}_{length}.gff3"
    out_gff.write_text("##gff-version 3\n" + "".join(lines))
    return out_fa, out_gff
