"""What one `scripts/gpu_run.sh` call sends back from the device machine, and putting it back where runs live here.

    python scripts/gpu_transfer.py pack OUT        # on the device machine, at the end of gpu_run.sh
    python scripts/gpu_transfer.py collect FOLDER  # here, FOLDER holding the call's returned files

The device tool returns at most 8 files of 16 MiB each, so weights travel as shards and the rest as two archives:
- `model-K.safetensors` + `phase5.tar.gz`: phase 5's last checkpoint (all but its optimizer and RNG state, so it
  is for export and evaluation, not --resume), its metrics.jsonl and train_config.yaml, the probe's metrics, the
  call's logs (runs/gpu-logs/) and scripts/evaluate_phase5.sh's reports (runs/gpu-eval/, without its model copy);
- `base-K.safetensors` + `study.tar.gz`: the context study's work folder without its data, TensorBoard files and
  any weights but the base model's.
`collect` writes runs/bacteria-gpu-unfrozen/, runs/gpu-logs/, runs/gpu-eval/ and runs/context-extension-gpu/ with each
checkpoint's model.safetensors whole again.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
SHARD_BYTES = 16_500_000  # under the 16 MiB (16,777,216 bytes) a returned file may hold, with room for the header
PHASE5, STUDY, LOGS = Path("runs/bacteria-gpu-unfrozen"), Path("runs/context-extension-gpu"), Path("runs/gpu-logs")
EVAL = Path("runs/gpu-eval")  # scripts/evaluate_phase5.sh: its reports, logs and GFF3 (its exported model stays)


def last_checkpoint(run: Path) -> Path | None:
    found = sorted(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def shard(weights: Path, out: Path, prefix: str, limit: int = SHARD_BYTES) -> int:
    """`weights` as out/prefix-K.safetensors files of at most `limit` bytes of tensors (one tensor may exceed
    it alone); returns the number of shards."""
    state, part, size, k = load_file(str(weights)), {}, 0, 0
    for key in sorted(state):
        nbytes = state[key].numel() * state[key].element_size()
        if part and size + nbytes > limit:
            save_file(part, str(out / f"{prefix}-{k}.safetensors"))
            part, size, k = {}, 0, k + 1
        part[key], size = state[key], size + nbytes
    save_file(part, str(out / f"{prefix}-{k}.safetensors"))
    return k + 1


def joined(folder: Path, prefix: str) -> dict:
    """The tensors of folder/prefix-K.safetensors, one state dict again."""
    state = {}
    for part in sorted(folder.glob(f"{prefix}-*.safetensors"), key=lambda p: int(p.stem.split("-")[1])):
        state |= load_file(str(part))
    return state


def pack(out: Path, root: Path = ROOT, limit: int = SHARD_BYTES) -> None:
    with tarfile.open(out / "phase5.tar.gz", "w:gz") as tar:
        ck = last_checkpoint(root / PHASE5)
        if ck:
            shard(ck / "model.safetensors", out, "model", limit)
            for p in sorted(ck.rglob("*")):  # all but the weights (sent as shards) and the optimizer's state
                if p.is_file() and p.name != "model.safetensors" and p.suffix not in (".bin", ".pkl"):
                    tar.add(p, str(p.relative_to(ck.parent)))
            for name in ("metrics.jsonl", "train_config.yaml"):
                tar.add(ck.parent / name, name)
        for path, name in ((root / "runs/probe-a/metrics.jsonl", "probe-metrics.jsonl"), (root / LOGS, "gpu-logs")):
            if path.exists():
                tar.add(path, name)
        for p in sorted((root / EVAL).rglob("*")):
            if p.is_file() and "model" not in p.relative_to(root / EVAL).parts[:1]:
                tar.add(p, str(Path("gpu-eval") / p.relative_to(root / EVAL)))
    base = last_checkpoint(root / STUDY / "base")
    if base:
        shard(base / "model.safetensors", out, "base", limit)
    with tarfile.open(out / "study.tar.gz", "w:gz") as tar:
        for p in sorted((root / STUDY).rglob("*")):
            rel = p.relative_to(root / STUDY)
            if p.is_file() and not rel.parts[0].startswith("data-") and p.suffix not in (".bin", ".pkl") \
                    and p.name != "model.safetensors" and "tensorboard" not in rel.parts:
                tar.add(p, str(rel))
        if (root / "runs/probe-b/metrics.jsonl").is_file():
            tar.add(root / "runs/probe-b/metrics.jsonl", "probe-metrics.jsonl")
    for p in sorted(out.iterdir()):
        print(f"{p.name}: {p.stat().st_size / 1e6:.1f} MB")


def _unpack(archive: Path, target: Path, prefix: str, run: str) -> None:
    """`archive` into `target`; the last checkpoint of `run` (a folder inside, "" for the top) gets its weights.
    Everything is read before anything is written, so a broken file leaves nothing half unpacked."""
    state = joined(archive.parent, prefix)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        steps = [int(m.name.split("checkpoint-")[1].split("/")[0]) for m in members
                 if m.name.startswith(run) and "checkpoint-" in m.name]
        tar.extractall(target, members=members, filter="data")
    if steps and state:
        ck = target / run / f"checkpoint-{max(steps)}"
        save_file(state, str(ck / "model.safetensors"), metadata={"format": "pt"})
        print(f"{ck}: {len(state)} tensors")


def collect(folder: Path, root: Path = ROOT) -> None:
    if (folder / "phase5.tar.gz").is_file():
        _unpack(folder / "phase5.tar.gz", root / PHASE5, "model", "")
        for inside, target in (("gpu-logs", LOGS), ("gpu-eval", EVAL)):  # packed beside the run, kept apart here
            if (root / PHASE5 / inside).is_dir():
                (root / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(root / target, ignore_errors=True)
                (root / PHASE5 / inside).replace(root / target)
    if (folder / "study.tar.gz").is_file():
        _unpack(folder / "study.tar.gz", root / STUDY, "base", "base")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("pack", "collect"):
        print("usage: gpu_transfer.py pack OUT | collect FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    if argv[0] == "collect" and not any((folder / a).is_file() for a in ("phase5.tar.gz", "study.tar.gz")):
        print(f"gpu_transfer.py: error: {folder}: no phase5.tar.gz or study.tar.gz (the files a gpu_run.sh call "
              "returns)", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (pack if argv[0] == "pack" else collect)(folder)
    except (tarfile.TarError, EOFError, OSError, SafetensorError) as err:  # a broken or cut-off transfer: one line
        print(f"gpu_transfer.py: error: {folder}: {type(err).__name__}: " + " ".join(str(err).split()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
