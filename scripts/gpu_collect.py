"""Put what one `scripts/gpu_run.sh` call brought back where the runs live here.

    .venv/bin/python scripts/gpu_collect.py FOLDER      # FOLDER: the call's files (its $OUT)

The device tool returns at most 8 files of 16 MiB, so gpu_run.sh sent phase 5's weights as shards and the rest as
archives. This writes runs/bacteria-gpu-unfrozen/ (metrics.jsonl, train_config.yaml, checkpoint-N/ with the whole
model.safetensors again, as train.py wrote it: no optimizer state, so it is for export and evaluation, not
--resume), runs/context-extension-gpu/ (results.json, docs/, base/ with its weights; the fine-tunes' weights stay
behind) and runs/gpu-logs/.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]


def join_shards(folder: Path, prefix: str, checkpoint: Path) -> None:
    """folder/prefix-K.safetensors -> checkpoint/model.safetensors (the file train.py wrote, split for the trip)."""
    shards = sorted(folder.glob(f"{prefix}-*.safetensors"), key=lambda p: int(p.stem.split("-")[1]))
    state = {}
    for shard in shards:
        state |= load_file(str(shard))
    save_file(state, str(checkpoint / "model.safetensors"), metadata={"format": "pt"})
    print(f"{checkpoint.relative_to(ROOT)}: {len(state)} tensors from {len(shards)} shards")


def unpack(archive: Path, target: Path, weights_prefix: str, run: str) -> None:
    """Extract `archive` into `target`; the weights of the last checkpoint of `run` (a folder in it) from shards."""
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
        names = [n for n in tar.getnames() if n.startswith(run) and "/checkpoint-" in "/" + n]
    if names:
        step = max(int(n.split("checkpoint-")[1].split("/")[0]) for n in names)
        join_shards(archive.parent, weights_prefix, target / run / f"checkpoint-{step}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    folder = Path(argv[0])
    runs = ROOT / "runs"
    if (folder / "phase5.tar.gz").is_file():
        unpack(folder / "phase5.tar.gz", runs / "bacteria-gpu-unfrozen", "model", "")
        logs = runs / "bacteria-gpu-unfrozen" / "gpu-logs"
        if logs.is_dir():
            (runs / "gpu-logs").mkdir(exist_ok=True)
            for log in logs.iterdir():
                log.replace(runs / "gpu-logs" / log.name)
            logs.rmdir()
    if (folder / "study.tar.gz").is_file():
        unpack(folder / "study.tar.gz", runs / "context-extension-gpu", "base", "base")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
