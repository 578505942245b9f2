import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genefinder.formats.errors import GeneFinderInputError
from genefinder.training import gene_structure_training as gst
from test_gene_structure_data import write_source

TINY_MODEL = {"conv_channels": 8, "conv_layers": 2, "conv_kernel": 5, "pool": 3, "hidden_size": 16,
              "num_mixer_layers": 1, "dropout": 0.1}


def tiny_config(tmp_path, run: str, **kwargs) -> gst.GeneStructureTrainConfig:
    cache = tmp_path / "cache"
    if not cache.exists():
        write_source(cache, "a", 600, 0)
        write_source(cache, "athaliana_validation", 200, 1)
    values = dict(run_dir=str(tmp_path / run), cache_dir=str(cache), sources={"a": 1.0}, model=TINY_MODEL,
                  window=30, batch_size=2, warmup_steps=2, max_steps=4, log_every=1, eval_every=2, eval_windows=2,
                  gene_eval_stretches=0,
                  eval_window=30, threads=1, lr=1e-2)
    values.update(kwargs)
    return gst.GeneStructureTrainConfig(**values)


def train_losses(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    whole = tiny_config(tmp_path, "whole")
    gst.train(whole)
    pieces = tiny_config(tmp_path, "pieces", max_minutes=0.0)  # each process does one step, checkpoints, stops
    for _ in range(4):
        gst.train(pieces, resume=True)
    state = torch.load(tmp_path / "pieces" / "checkpoint" / "training_state.pt", weights_only=False)
    assert state["step"] == 4
    a = load_file(tmp_path / "whole" / "checkpoint" / "model" / "model.safetensors")
    b = load_file(tmp_path / "pieces" / "checkpoint" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert train_losses(tmp_path / "whole") == train_losses(tmp_path / "pieces")
    assert (tmp_path / "whole" / "best" / "model" / "config.json").exists()
    assert (tmp_path / "whole" / "tensorboard").is_dir()


def test_resume_is_explicit_keeps_the_settings_and_reads_them_from_the_run(tmp_path):
    cfg = tiny_config(tmp_path, "run", max_minutes=0.0)
    gst.train(cfg)
    with pytest.raises(GeneFinderInputError, match="already holds a checkpoint: add --resume"):
        gst.train(cfg)
    with pytest.raises(GeneFinderInputError, match="setting\\(s\\) lr, max_steps differ"):
        gst.train(tiny_config(tmp_path, "run", max_minutes=0.0, lr=1e-3, max_steps=8), resume=True)
    gst.train(tiny_config(tmp_path, "run", max_minutes=0.0, threads=2, log_every=5), resume=True)  # run control only
    assert gst.main(["--resume", "--run_dir", str(tmp_path / "run"), "--max_minutes", "null"]) == 0
    state = torch.load(tmp_path / "run" / "checkpoint" / "training_state.pt", weights_only=False)
    assert state["step"] == 4  # the run's own max_steps, read from its config.json
    assert gst.main(["--resume"]) == 2


def test_training_lowers_the_loss_on_a_learnable_source(tmp_path):
    cache = tmp_path / "cache"
    write_source(cache, "athaliana_validation", 200, 1)
    folder = cache / "learn"
    folder.mkdir()
    ids = np.random.default_rng(0).integers(0, 4, 3000).astype(np.int8)
    labels = np.where(ids == 0, 1, 0).astype(np.int8)  # class 1 exactly where the base is A (either strand: A or T)
    np.save(folder / "ids.npy", ids)
    np.save(folder / "labels.npy", labels)
    np.save(folder / "mask.npy", np.ones(3000, np.uint8))
    (folder / "counts.json").write_text(json.dumps({"length": 3000, "masked_out": 0,
                                                    "class_counts": np.bincount(labels, minlength=9).tolist()}))
    cfg = tiny_config(tmp_path, "learn", sources={"learn": 1.0}, max_steps=60, eval_every=1000, batch_size=4,
                      window=60, model={**TINY_MODEL, "dropout": 0.0})
    gst.train(cfg)
    losses = train_losses(tmp_path / "learn")
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])


def test_structure_metrics_count_strand_exact_cds():
    confusion = np.zeros((9, 9), dtype=np.int64)
    confusion[1, 1] = 6  # '+' CDS found in frame
    confusion[1, 2] = 2  # '+' CDS, wrong frame: still a CDS nucleotide on its strand
    confusion[1, 4] = 2  # '+' CDS predicted on '-': not found
    confusion[0, 5] = 2  # non-coding predicted coding
    confusion[0, 0] = 10
    m = gst.structure_metrics(confusion)
    assert m["cds_nt_recall"] == pytest.approx(8 / 10)
    assert m["cds_nt_precision"] == pytest.approx(8 / 12)
    assert m["cds_nt_f1"] == pytest.approx(2 * 8 / 22)
    assert m["f1/+1"] == pytest.approx(2 * 6 / (6 + 10))
    assert m["accuracy"] == pytest.approx(16 / 22)


def test_automatic_class_weights_follow_the_mixed_frequencies(tmp_path):
    for name, counts in (("x", [80, 10, 10, 0, 0, 0, 0, 0, 0]), ("y", [20, 0, 0, 0, 0, 0, 0, 80, 0])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "counts.json").write_text(json.dumps({"class_counts": counts}))
    cfg = gst.GeneStructureTrainConfig(cache_dir=str(tmp_path), sources={"x": 1.0, "y": 1.0}, class_weight_power=1.0)
    weights = gst.automatic_class_weights(cfg)  # both strands: 0.5, .025, .025, 0, .025, .025, 0, 0.2, 0.2
    assert weights[0] == 1.0 and weights[1] == weights[4] == pytest.approx(20.0)
    assert weights[7] == weights[8] == pytest.approx(2.5)
    assert weights[3] == weights[6] > 1000  # an absent class gets a large but finite weight


def test_load_config_reads_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: gene_structure\nlr: 3e-4\nsources: {a: 2}\nmodel: {mixer: lstm}\n")
    cfg = gst.load_config(str(path), ["--batch_size", "4", "--model.hidden_size", "64", "--max_minutes", "1.5"])
    assert cfg.lr == 3e-4 and cfg.batch_size == 4 and cfg.max_minutes == 1.5
    assert cfg.model == {"mixer": "lstm", "hidden_size": 64} and cfg.sources == {"a": 2}
    with pytest.raises(GeneFinderInputError, match="unknown setting"):
        gst.load_config(str(path), ["--learning_rate", "1"])
    with pytest.raises(GeneFinderInputError, match="validation source"):
        gst.load_config(str(path), ["--sources", "{athaliana_validation: 1}"])
    with pytest.raises(GeneFinderInputError, match="`batch_size` must be an integer"):
        gst.load_config(str(path), ["--batch_size", "0"])
