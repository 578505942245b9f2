"""scripts/gpu_transfer.py: a lent GPU's runs come back as shards and archives and are put back whole."""

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

pytestmark = pytest.mark.slow  # the project's GPU-run tooling (scripts/), not the product

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_transfer.py"
spec = importlib.util.spec_from_file_location("gpu_transfer", SCRIPT)
gpu_transfer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_transfer)


def _checkpoint(folder: Path, tensors: dict) -> None:
    folder.mkdir(parents=True)
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text("{}")
    (folder / "optimizer.bin").write_bytes(b"not sent")


def test_pack_then_collect_gives_back_each_last_checkpoint_whole(tmp_path):
    device, here, out = tmp_path / "device", tmp_path / "here", tmp_path / "out"
    g = torch.Generator().manual_seed(0)
    model = {f"layer{i}.weight": torch.randn(64, 64, generator=g) for i in range(5)}  # 16 kB each
    base = {"bert.w": torch.randn(8, 8, generator=g)}
    _checkpoint(device / "runs/bacteria-gpu-unfrozen/checkpoint-10", {"old": torch.zeros(1)})
    _checkpoint(device / "runs/bacteria-gpu-unfrozen/checkpoint-250", model)
    for name in ("metrics.jsonl", "train_config.yaml"):
        (device / "runs/bacteria-gpu-unfrozen" / name).write_text(name)
    (device / "runs/gpu-logs").mkdir(parents=True)
    (device / "runs/gpu-logs/phase5.log").write_text("log")
    (device / "runs/gpu-eval/model").mkdir(parents=True)
    (device / "runs/gpu-eval/model/model.safetensors").write_text("an exported copy stays behind")
    (device / "runs/gpu-eval/orf_decoding_sweep_phase5.md").write_text("sweep")
    study = device / "runs/context-extension-gpu"
    _checkpoint(study / "base/checkpoint-300", base)
    _checkpoint(study / "finetune-yarn/checkpoint-50", {"x": torch.ones(2)})
    (study / "results.json").write_text("{}")
    (study / "data-1024").mkdir()
    (study / "data-1024/rows.arrow").write_text("data stays behind")
    out.mkdir()
    gpu_transfer.pack(out, device, limit=40_000)  # two 16 kB tensors per shard
    assert sorted(p.name for p in out.glob("model-*")) == ["model-0.safetensors", "model-1.safetensors",
                                                            "model-2.safetensors"]
    gpu_transfer.collect(out, here)
    back = load_file(str(here / "runs/bacteria-gpu-unfrozen/checkpoint-250/model.safetensors"))
    assert back.keys() == model.keys() and all(torch.equal(back[k], model[k]) for k in model)
    assert not (here / "runs/bacteria-gpu-unfrozen/checkpoint-250/optimizer.bin").exists()
    assert (here / "runs/gpu-logs/phase5.log").read_text() == "log"
    assert (here / "runs/gpu-eval/orf_decoding_sweep_phase5.md").read_text() == "sweep"
    assert not (here / "runs/gpu-eval/model").exists() and not (here / "runs/bacteria-gpu-unfrozen/gpu-eval").exists()
    assert torch.equal(load_file(str(here / "runs/context-extension-gpu/base/checkpoint-300/model.safetensors"))
                       ["bert.w"], base["bert.w"])
    assert (here / "runs/context-extension-gpu/results.json").is_file()
    assert not (here / "runs/context-extension-gpu/data-1024").exists()
    assert not (here / "runs/context-extension-gpu/finetune-yarn/checkpoint-50/model.safetensors").exists()
