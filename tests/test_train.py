"""train.py and its recipe, monitor and Hub export, on a tiny model and a real E. coli slice (1024-nt windows).

One module-scoped 40-step run serves the loss, pruning, plotting, export and push tests; the resume,
data-parallel and decoder-lm tests make their own few-step runs.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from genefinder.datasets_scripts.build_dataset import GenomeSource, build_dataset
from genefinder.formats.errors import GeneFinderInputError
from genefinder.train import Trainer, checkpoints, parse_args, train
from genefinder.training.training_config import from_dict, parse_overrides
from genefinder.training.training_monitor import plot_training, read_metrics
from genefinder.training.training_recipe import SampleStream, batch_size_at, decay_split, lr_at
from real_data import DATA, write_slice

REPO = Path(__file__).resolve().parents[1]
BPE_FILE = DATA.parent / "reference" / "dnabert2" / "tokenizer.json"
# head dim 16: CPU SDPA is several times slower per FLOP at head dim 8
TINY = {"encoder_config": {"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                           "intermediate_size": 64},
        "d_model": 32, "decoder_layers": 2, "decoder_attention_heads": 2, "decoder_ffn_dim": 64}



@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ecoli")
    fa, gff = write_slice(tmp, "ecoli_k12_mg1655", "NC_000913.3", 120_000)
    out = tmp / "ds"
    build_dataset([GenomeSource(str(fa), str(gff), "ecoli")], str(out), window=1024, stride=512, rc_augment=True)
    return out


def config(dataset, run_dir, **kw):
    base = dict(dataset=str(dataset), run_dir=str(run_dir), model=TINY, batch_size=8, micro_batch_size=4, max_steps=40,
                lr=5e-3, warmup_steps=5, eval_every=0, eval_windows=16, checkpoint_every=1000, keep_last=2, log_every=1,
                tensorboard=False, progress_bar=False, cpu_threads=1)
    return from_dict(base | kw)


def train_losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run_dir) if r["kind"] == "train"}


@pytest.fixture(scope="module")
def short_run(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "tiny"
    cfg = config(dataset, run_dir, eval_every=20, checkpoint_every=10, tensorboard=True)
    result = train(cfg)
    return run_dir, result


# ---------------------------------------------------------------------------------------------- training

@pytest.mark.slow
def test_loss_falls_well_below_the_start(short_run):
    run_dir, result = short_run
    losses = train_losses(run_dir)
    first, last = losses[1], sum(losses[s] for s in range(36, 41)) / 5
    assert first > 6.0  # ~log(words + 1024 positions) before training
    assert last < 0.5 * first, losses
    evals = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [20, 40]
    assert evals[-1]["loss"] < evals[0]["loss"] and 0 < evals[-1]["token_accuracy"] <= 1
    assert 0 < evals[-1]["eval_time_fraction"] < 1 and evals[-1]["windows"] == 16
    assert result["step"] == 40 and (run_dir / "tensorboard").is_dir()


@pytest.mark.slow
def test_checkpoints_keep_the_last_k(short_run):
    run_dir, _ = short_run
    assert [p.name for p in checkpoints(run_dir)] == ["checkpoint-30", "checkpoint-40"]
    ckpt = run_dir / "checkpoint-40"
    for name in ("model.safetensors", "config.json", "optimizer.bin", "random_states_0.pkl", "trainer_state.json"):
        assert (ckpt / name).is_file(), name
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["step"] == 40 and state["consumed_windows"] == 320 and state["last_eval"]["step"] == 40
    assert not list(run_dir.glob(".checkpoint-*"))


@pytest.mark.slow
def test_resume_continues_exactly(dataset, tmp_path):
    # dropout, a batch ramp and gradient accumulation all have to come back exactly
    kw = dict(model=TINY | {"dropout": 0.1}, max_steps=6, warmup_steps=2, batch_size=8, micro_batch_size=2,
              batch_size_start=4, batch_ramp_steps=4)
    train(config(dataset, tmp_path / "straight", **kw))
    train(config(dataset, tmp_path / "cut", checkpoint_every=3, stop_at_step=3, **kw))
    assert [p.name for p in checkpoints(tmp_path / "cut")] == ["checkpoint-3"]
    train(config(dataset, tmp_path / "cut", checkpoint_every=3, **kw), resume=True)
    straight, resumed = train_losses(tmp_path / "straight"), train_losses(tmp_path / "cut")
    assert sorted(resumed) == list(range(1, 7))  # the log continues, nothing doubled
    for step in (4, 5, 6):
        assert abs(resumed[step] - straight[step]) < 1e-6, (step, resumed[step], straight[step])
    lrs = {r["step"]: r["lr"] for r in read_metrics(tmp_path / "cut") if r["kind"] == "train"}
    assert lrs[4] == pytest.approx(lr_at(4, config(dataset, tmp_path, **kw)), abs=0)


@pytest.mark.slow
def test_prefetching_the_next_steps_batches_changes_nothing(dataset, tmp_path):
    """`prefetch` prepares step s + 1's micro-batches in a thread during step s: the same losses, ramp included."""
    kw = dict(model=TINY | {"dropout": 0.1}, max_steps=5, warmup_steps=2, batch_size=8, micro_batch_size=2,
              batch_size_start=4, batch_ramp_steps=4)
    for flag in (True, False):
        train(config(dataset, tmp_path / str(flag), prefetch=flag, **kw))
    ahead, inline = train_losses(tmp_path / "True"), train_losses(tmp_path / "False")
    assert sorted(ahead) == list(range(1, 6))
    assert all(abs(ahead[k] - inline[k]) < 1e-6 for k in ahead), (ahead, inline)


@pytest.mark.slow
def test_bf16_autocast_trains_as_a_gpu_run_would(dataset, tmp_path):
    """`mixed_precision: bf16` (what `auto` picks on a GPU) through the real loop, here on CPU autocast, in a fresh
    process (Accelerate fixes the precision once per process): the coding-frame head and the pointer logits train
    and the losses stay within a few percent of the fp32 run's."""
    kw = dict(model=TINY | {"coding_frame_loss_coef": 1.0}, max_steps=3, warmup_steps=1)
    train(config(dataset, tmp_path / "no", **kw))
    cfg_file = tmp_path / "bf16.yaml"
    cfg_file.write_text(json.dumps({"dataset": str(dataset), "model": kw["model"], "lr": 5e-3}))  # JSON is YAML
    cmd = [sys.executable, "-m", "genefinder.train", "--config", str(cfg_file), "--run_dir", str(tmp_path / "bf16"),
           "--mixed_precision", "bf16", "--max_steps", "3", "--warmup_steps", "1", "--batch_size", "8",
           "--micro_batch_size", "4", "--log_every", "1", "--eval_every", "0", "--tensorboard", "false",
           "--progress_bar", "false", "--cpu_threads", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    bf16, fp32 = train_losses(tmp_path / "bf16"), train_losses(tmp_path / "no")
    state = json.loads((checkpoints(tmp_path / "bf16")[-1] / "trainer_state.json").read_text())
    assert state["mixed_precision"] == "bf16" and sorted(bf16) == [1, 2, 3]
    assert all(math.isfinite(bf16[k]) and abs(bf16[k] - fp32[k]) < 0.05 * fp32[k] for k in fp32), (bf16, fp32)


def test_resume_refuses_changed_settings(dataset, tmp_path):
    train(config(dataset, tmp_path / "r", max_steps=2, warmup_steps=1, stop_at_step=1))
    with pytest.raises(GeneFinderInputError, match="`lr`"):
        Trainer(config(dataset, tmp_path / "r", max_steps=2, warmup_steps=1, lr=1e-3), resume=True)


@pytest.mark.slow
def test_two_processes_match_one(dataset, tmp_path):
    """Two processes (gloo DDP on CPU) give the 1-process losses for the same global batch.

    `accelerate launch --multi_gpu`: with `--cpu` instead, accelerate 1.15 starts one process unless MPI is set
    up; on a machine without GPUs train.py asks Accelerate for CPU DDP itself (see docs/training.md)."""
    common = ["--max_steps", "3", "--warmup_steps", "1", "--batch_size", "8", "--log_every", "1", "--eval_every", "0",
              "--tensorboard", "false", "--progress_bar", "false"]
    overrides = parse_overrides(common)
    train(config(dataset, tmp_path / "one", micro_batch_size=4, **overrides))
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(json.dumps({"dataset": str(dataset), "model": TINY, "lr": 5e-3}))  # JSON is YAML
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_cpu_threads_per_process", "1",
           str(REPO / "train.py"), "--config", str(cfg_file), "--run_dir", str(tmp_path / "two"),
           "--micro_batch_size", "2", *common]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    one, two = train_losses(tmp_path / "one"), train_losses(tmp_path / "two")
    assert json.loads((tmp_path / "two" / "checkpoint-3" / "trainer_state.json").read_text())["processes"] == 2
    assert sorted(two) == [1, 2, 3]
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-5, abs=1e-5), (step, one, two)


def test_decoder_lm_stage_then_init_from(dataset, tmp_path):
    from safetensors.torch import load_file

    run = tmp_path / "lm"
    train(config(dataset, run, stage="decoder-lm", max_steps=4, warmup_steps=1, eval_every=4, eval_windows=8))
    evals = [r for r in read_metrics(run) if r["kind"] == "eval"]
    assert evals and math.isfinite(evals[-1]["loss"])
    lm = load_file(str(run / "checkpoint-4" / "model.safetensors"))
    decoder_keys = [k for k in lm if not k.startswith("encoder.")]
    encoder_keys = [k for k in lm if k.startswith("encoder.")]
    # same seed, no training: the encoder was frozen (unchanged), the decoder trained
    fresh = Trainer(config(dataset, tmp_path / "fresh", max_steps=2, warmup_steps=1)).unwrapped.state_dict()
    assert all(torch.equal(fresh[k], lm[k]) for k in encoder_keys)
    assert not all(torch.equal(fresh[k], lm[k]) for k in decoder_keys if k.startswith("layers."))
    # init_from (another seed): every decoder tensor comes from the LM checkpoint, the encoder is the run's own
    own = Trainer(config(dataset, tmp_path / "s2s", init_from=str(run / "checkpoint-4"), max_steps=2, warmup_steps=1,
                         seed=1)).unwrapped.state_dict()
    assert decoder_keys and all(torch.equal(own[k], lm[k]) for k in decoder_keys)
    key = "encoder.nucleotide_keys.token_proj.weight"
    assert not torch.equal(own[key], lm[key])


def test_gradient_checkpointing_gives_the_same_step(dataset, tmp_path):
    records = []
    for flag in (False, True):
        trainer = Trainer(config(dataset, tmp_path / str(flag), gradient_checkpointing=flag, max_steps=2,
                                 warmup_steps=1))
        assert trainer.unwrapped.gradient_checkpointing is flag
        records.append(trainer.train_step())
    assert records[0]["loss"] == pytest.approx(records[1]["loss"], abs=1e-6)
    assert records[0]["grad_norm"] == pytest.approx(records[1]["grad_norm"], rel=1e-4)


@pytest.mark.skipif(not BPE_FILE.is_file(), reason="../shared/reference/dnabert2/tokenizer.json not found")
def test_bpe_encoder_trains_and_checkpoints_its_tokenizer(dataset, tmp_path):
    model = {"encoder_config": {"encoder_type": "dnabert2", "hidden_size": 32, "num_hidden_layers": 1,
                                "num_attention_heads": 2, "intermediate_size": 64},
             "d_model": 32, "decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 64}
    result = train(config(dataset, tmp_path / "bpe", model=model, dna_tokenizer=str(BPE_FILE), max_steps=2,
                          warmup_steps=1))
    assert (Path(result["checkpoint"]) / "dna_tokenizer" / "tokenizer.json").is_file()
    assert all(math.isfinite(v) for v in train_losses(tmp_path / "bpe").values())


# ---------------------------------------------------------------------------------------------- the recipe

def test_lr_schedule_warmup_cosine_to_ten_percent(tmp_path):
    cfg = config(tmp_path, tmp_path, lr=1e-3, warmup_steps=10, max_steps=110)
    assert lr_at(1, cfg) == pytest.approx(1e-4)
    assert lr_at(10, cfg) == pytest.approx(1e-3)  # end of warm-up: the peak
    assert lr_at(60, cfg) == pytest.approx(1e-4 + 0.5 * 9e-4)  # half-way through the cosine
    assert lr_at(110, cfg) == pytest.approx(1e-4)  # 10% of the peak at the end
    values = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_weight_decay_only_on_matrices(tmp_path):
    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration

    model = GeneFinderForConditionalGeneration(GeneFinderConfig(**TINY))
    decay, no_decay = decay_split(model)
    assert set(decay) | set(no_decay) == {n for n, _ in model.named_parameters()}
    assert "layers.0.self_attn.q_proj.weight" in decay and "word_head.weight" in decay
    assert "encoder.nucleotide_keys.base_conv.weight" in decay
    for name in ("embed_words.weight", "encoder.nucleotide_keys.offset_embed.weight", "layers.0.fc1.bias",
                 "final_layer_norm.weight", "layers.0.self_attn_layer_norm.bias"):
        assert name in no_decay, name
    params = dict(model.named_parameters())
    assert all(params[n].ndim >= 2 for n in decay)
    assert not [n for n in decay if "embed" in n or "norm" in n or n.endswith(".bias")]


def test_batch_size_ramp(tmp_path):
    cfg = config(tmp_path, tmp_path, batch_size=32, micro_batch_size=4, batch_size_start=8, batch_ramp_steps=7)
    sizes = [batch_size_at(s, cfg, multiple=4) for s in range(1, 10)]
    assert sizes == [8, 12, 16, 20, 24, 28, 32, 32, 32]
    assert batch_size_at(2, cfg, multiple=8) == 8  # rounded down to whole micro-batches x processes
    assert batch_size_at(5, config(tmp_path, tmp_path, batch_size=32, micro_batch_size=4), 4) == 32  # no ramp


def test_sample_stream_is_a_seeded_permutation_per_epoch():
    s = SampleStream(10, seed=3)
    first, second = s.take(0, 10), s.take(10, 10)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    assert SampleStream(10, seed=3).take(7, 6) == (first + second)[7:13]  # resuming mid-stream: same windows


# ---------------------------------------------------------------------------------------------- config

def test_overrides_parse_dotted_and_typed(tmp_path):
    ov = parse_overrides(["--lr", "1e-3", "--model.d_model=128", "--model.encoder_config.rope_parameters",
                          "{rope_type: yarn, factor: 4.0}", "--gradient-checkpointing", "--init-from", "none"])
    assert ov == {"lr": 1e-3, "model": {"d_model": 128, "encoder_config": {"rope_parameters": {"rope_type": "yarn",
                  "factor": 4.0}}}, "gradient_checkpointing": True, "init_from": "none"}
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("dataset: d\nlr: 3e-4\nmodel:\n  d_model: 64\n  decoder_attention_heads: 2\n")
    cfg, resume = parse_args(["--config", str(yaml_file), "--model.decoder_layers", "3", "--resume", "--lr", "2e-4"])
    assert resume and cfg.lr == 2e-4 and cfg.model == {"d_model": 64, "decoder_attention_heads": 2, "decoder_layers": 3}
    assert isinstance(from_dict({"dataset": "d", "lr": 1}).lr, float)


@pytest.mark.parametrize("override, message", [
    ({"lr": -1.0}, "`lr` must be positive"),
    ({"batch_size": 10, "micro_batch_size": 4}, r"`batch_size` \(10\) must be a multiple of `micro_batch_size` \(4\)"),
    ({"warmup_steps": 50, "max_steps": 40}, "`warmup_steps` .* less than `max_steps`"),
    ({"stage": "lm"}, "`stage` must be one of seq2seq, decoder-lm"),
    ({"learning_rate": 1e-3}, "unknown field `learning_rate`"),
    ({"max_steps": "many"}, "`max_steps` must be an integer"),
    ({"batch_size_start": 4}, "`batch_ramp_steps` must be at least 1"),
    ({"model": {"d_modle": 64}}, r"unknown field `model.d_modle` \(did you mean `model.d_model`\?\)"),
    ({"model": {"d_model": 30}}, "model: `d_model` .* divisible"),
    ({"model": {"encoder_config": {"encoder_type": "dnabert2", "hidden_sise": 8}}}, "model.encoder_config.hidden_sise"),
    ({"model": {"encoder_config": {"encoder_type": "dnabert2"}}}, "`dna_tokenizer` is required"),
])
def test_validation_errors_name_the_field(override, message):
    with pytest.raises(GeneFinderInputError, match=message):
        from_dict({"dataset": "d", "max_steps": 40, "warmup_steps": 5} | override, source="x.yaml")


def test_shipped_configs_are_valid():
    from genefinder.training.gene_structure_training import load_config as load_gene_structure_config
    from genefinder.training.training_config import load_config, read_yaml

    names = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
    assert {"tiny-cpu.yaml", "small-cpu.yaml", "base-gpu.yaml"} <= set(names)
    for name in names:
        path = REPO / "configs" / name
        if read_yaml(path).get("task") == "gene_structure":  # train.py hands these to the gene-structure loop
            load_gene_structure_config(str(path), [])
        else:
            load_config(path)


def test_a_coordinate_vocabulary_shorter_than_the_windows_is_a_one_line_error(dataset, tmp_path):
    vocabulary = TINY | {"coordinate_head": "vocabulary", "max_coordinates": 512}  # windows of 1,024 nt
    with pytest.raises(GeneFinderInputError, match=r"`model.max_coordinates` \(512\) is shorter .* \(1024 nt\)"):
        Trainer(config(dataset, tmp_path / "run", model=vocabulary))


def test_missing_dataset_is_a_one_line_error(tmp_path):
    with pytest.raises(GeneFinderInputError, match="dataset folder not found"):
        Trainer(config(tmp_path / "nope", tmp_path / "run"))


# ---------------------------------------------------------------------------------------------- monitor, export

@pytest.mark.slow
def test_plot_training_writes_pngs(short_run, tmp_path):
    run_dir, _ = short_run
    cmd = [sys.executable, "-m", "genefinder.cli", "plot-training", str(run_dir), "--out", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    written = {Path(line).name for line in res.stdout.split()}
    assert {"loss.png", "lr.png", "grad_norm.png", "eval.png"} <= written
    for name in written:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_training(run_dir, tmp_path / "again")


@pytest.mark.slow
def test_export_folder_loads_with_auto_classes(short_run, tmp_path):
    from genefinder.hub.hub_export import export

    run_dir, _ = short_run
    out = tmp_path / "hub"
    files = {p.relative_to(out).as_posix() for p in export(run_dir / "checkpoint-40", out)}
    assert {"model.safetensors", "config.json", "README.md", "gff_vocab.json", "tokenizer_config.json",
            "modeling_genefinder.py", "configuration_genefinder.py", "tokenization_gff.py"} <= files
    assert not {"optimizer.bin", "trainer_state.json"} & files
    auto_map = json.loads((out / "config.json").read_text())["auto_map"]
    assert {"AutoConfig", "AutoModel", "AutoModelForSeq2SeqLM"} <= set(auto_map)
    card = (out / "README.md").read_text()
    state = json.loads((run_dir / "checkpoint-40" / "trainer_state.json").read_text())
    assert "## Training run" in card and f"{state['last_eval']['loss']:.4f}" in card
    assert "No trained genefinder weights exist" not in card
    assert _load_in_fresh_process(out, tmp_path) == ("GeneFinderForConditionalGeneration", "GFFTokenizer",
                                                     state["parameters"])


def _load_in_fresh_process(folder, cwd) -> tuple[str, str, int]:
    """(model class, tokenizer class, parameters) as AutoModel/AutoTokenizer load `folder` with its own code."""
    code = textwrap.dedent(f"""
        import sys
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        model = AutoModelForSeq2SeqLM.from_pretrained({str(folder)!r}, trust_remote_code=True)
        tok = AutoTokenizer.from_pretrained({str(folder)!r}, trust_remote_code=True)
        print(type(model).__name__, type(tok).__name__, sum(p.numel() for p in model.parameters()))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert res.returncode == 0, res.stderr[-3000:]
    name, tok, n = res.stdout.split()[-3:]
    return name, tok, int(n)


@pytest.mark.slow
def test_export_writes_flat_code_and_carries_held_out_results(short_run, tmp_path):
    from genefinder.hub.hub_export import export
    from genefinder.hub.remote_code import HUB_FILES, flat_source

    run_dir, _ = short_run
    results = tmp_path / "heldout.md"
    results.write_text("# Held-out genome\n\n| tool | gene F1 |\n|---|---|\n| genefinder | 0.123 |\n")
    out = tmp_path / "default_model"
    export(run_dir / "checkpoint-40", out, results=results)
    card = (out / "README.md").read_text()
    assert card.index("## Training run") < card.index("## Held-out genome") < card.index("## Intended use")
    assert sorted(p.name for p in out.glob("*.py")) == sorted(Path(p).name for p in HUB_FILES)
    assert all((out / Path(p).name).read_text() == flat_source((REPO / p).read_text()) for p in HUB_FILES)
    state = json.loads((run_dir / "checkpoint-40" / "trainer_state.json").read_text())
    assert _load_in_fresh_process(out, tmp_path)[2] == state["parameters"]


@pytest.mark.slow
def test_push_to_hub_dry_run_lists_files_and_offline_push_fails_in_one_line(short_run, tmp_path):
    from genefinder.hub.hub_export import export

    run_dir, _ = short_run
    out = tmp_path / "hub"
    export(run_dir / "checkpoint-30", out)
    cli = [sys.executable, "-m", "genefinder.cli", "push-to-hub", str(out), "someone/genefinder-test"]
    res = subprocess.run([*cli, "--dry-run", "--private"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "would create private model repo someone/genefinder-test" in res.stdout
    for name in ("model.safetensors", "config.json", "README.md", "modeling_genefinder.py"):
        assert f"  {name}  (" in res.stdout
    res = subprocess.run(cli, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 1 and res.stderr.strip().startswith("genefinder: push-to-hub failed:")
    assert len(res.stderr.strip().splitlines()) == 1


def test_gene_level_eval_generates_and_scores_each_level():
    """The eval hook runs constrained generation on validation rows and scores it with evaluation.py.

    An untrained model predicts no gene here, so every level scores F1 0 against the one target gene;
    the counting itself is tested in test_evaluation.py.
    """
    import torch

    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.formats.features import CDSPart, Gene, Transcript
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
    from genefinder.processing_genefinder import GeneFinderInputs
    from genefinder.tokenization_gff import GFFTokenizer
    from genefinder.training.training_gene_eval import make_gene_level_eval

    tok = GFFTokenizer()
    dna = "CC" + "ATG" + "GCA" * 20 + "TAA" + "CC" * 20  # one 66-nt ORF at 3..68
    target = tok.encode_genes([Gene("+", (Transcript("mRNA", cds=(CDSPart(3, 68, 0),)),))])
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64)
    torch.manual_seed(0)
    model = GeneFinderForConditionalGeneration(cfg).train()
    hook = make_gene_level_eval(GeneFinderInputs("aido"), max_new_tokens=16)
    row = {"dna": dna, "length": len(dna), "target_ids": target, "genetic_code": 11}
    scores = hook(model, [row], accelerator=None)
    assert set(scores) == {"gene_f1", "exon_f1", "stop_f1", "start_f1"}
    assert scores["gene_f1"] == 0.0 and scores["stop_f1"] == 0.0
    assert model.training  # the hook leaves the model as it found it


@pytest.mark.slow
def test_constrained_loss_scores_the_reference_among_the_grammars_choices(dataset, tmp_path):
    """Masking to the grammar's choices only raises the reference's probability, so the constrained loss of the
    same weights is lower; windows with genes the grammar cannot express still train (unconstrained tail)."""
    from datasets import load_from_disk

    from genefinder.tokenization_gff import GFFTokenizer
    from genefinder.training.training_tasks import grammar_allowed

    split = load_from_disk(str(dataset))["train"]
    rows = split.select(range(12))
    labels = torch.nn.utils.rnn.pad_sequence([torch.tensor(t) for t in rows["target_ids"]], batch_first=True,
                                             padding_value=-100)
    allowed = grammar_allowed(rows["dna"], rows["genetic_code"], labels, max(rows["length"]))
    n_words = GFFTokenizer().n_words
    gold = allowed.gather(2, labels.clamp(min=0)[..., None])[..., 0]
    assert gold[labels != -100].all()  # the reference is always among the allowed tokens
    constrained = (labels != -100) & (allowed.sum(-1) < allowed.size(-1))
    assert constrained.sum() > 0.9 * (labels != -100).sum()  # nearly every step is narrowed down
    assert (allowed[..., n_words:].sum(-1)[constrained] < 1024).all()

    cfg = config(dataset, tmp_path / "c", max_steps=3, warmup_steps=1, constrained_loss=True)
    trainer = Trainer(cfg)
    plain = Trainer(config(dataset, tmp_path / "p", max_steps=3, warmup_steps=1))
    plain.model.load_state_dict(trainer.model.state_dict())
    idx = list(range(4))
    sums = [t.task.forward(t.model, t.task.batch(t.train_rows, idx, 1, idx), "cpu")[0].item() for t in (trainer, plain)]
    assert sums[0] < sums[1]
    assert train(cfg)["step"] == 3


@pytest.mark.slow
def test_training_records_its_window_as_annotates_default(short_run):
    from types import SimpleNamespace

    from genefinder.annotation.annotation import AnnotationSettings

    run_dir, _ = short_run
    saved = json.loads((run_dir / "checkpoint-40" / "config.json").read_text())
    assert saved["trained_window"] == 1024  # the dataset's windows
    assert AnnotationSettings.window_for(SimpleNamespace(trained_window=1024)) == (1024, 256)
    assert AnnotationSettings.window_for(SimpleNamespace(trained_window=1024), 3000, 100) == (3000, 100)
    assert AnnotationSettings.window_for(None) == (AnnotationSettings.window, AnnotationSettings.window // 4)


@pytest.mark.slow
def test_trainable_trains_only_the_named_parts_from_a_linear_head_checkpoint(dataset, tmp_path):
    """Phase-4 style: a run with the linear coding head initialises a model with coding convolutions, and
    `trainable: [coding_head, coding_convs]` moves those parameters and nothing else."""
    frames = TINY | {"coding_frame_loss_coef": 1.0}
    train(config(dataset, tmp_path / "linear", max_steps=2, warmup_steps=1, checkpoint_every=2, model=frames))
    start = tmp_path / "linear" / "checkpoint-2"
    cfg = config(dataset, tmp_path / "convs", max_steps=4, warmup_steps=1, checkpoint_every=4, init_from=str(start),
                 init_from_part="all", trainable=["coding_head", "coding_convs"],
                 model=frames | {"coding_head_layers": 2})
    train(cfg)
    from safetensors.torch import load_file

    before, after = load_file(str(start / "model.safetensors")), load_file(str(tmp_path / "convs" / "checkpoint-4" /
                                                                               "model.safetensors"))
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"coding_head.weight", "coding_head.bias"}
    assert {k for k in after if k.startswith("coding_convs.")} and set(after) - set(before) == \
        {k for k in after if k.startswith("coding_convs.")}
    with pytest.raises(GeneFinderInputError, match="trainable"):
        train(config(dataset, tmp_path / "bad", max_steps=2, warmup_steps=1, trainable=["nothing_here"]))


@pytest.mark.slow
def test_coding_frame_loss_trains_the_head_and_reports_it_apart(dataset, tmp_path):
    """With `coding_frame_loss_coef` every window's nucleotides carry frame labels; eval logs the GFF loss without
    the auxiliary term, plus the head's own loss and accuracy, and the head learns (loss falls from ~ln 7)."""
    run_dir = tmp_path / "frames"
    cfg = config(dataset, run_dir, max_steps=30, eval_every=10, constrained_loss=True,
                 model=TINY | {"coding_frame_loss_coef": 1.0})
    train(cfg)
    evals = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [10, 20, 30]
    assert all(0 < e["coding_accuracy"] <= 1 and e["loss"] > 0 for e in evals)
    assert evals[-1]["coding_loss"] < evals[0]["coding_loss"] < math.log(7)
    saved = json.loads((run_dir / "checkpoint-30" / "config.json").read_text())
    assert saved["coding_frame_loss_coef"] == 1.0
