"""train.py's `mlm` and `classification` stages, the classification dataset builder, `genefinder embed` and
`classify`, on 200-nt fragments of real E. coli, B. subtilis and M. genitalium slices (tiny aido encoder)."""

import csv

import pyarrow.parquet as pq
import pytest
import torch

from genefinder.cli import main
from genefinder.datasets_scripts.build_classification_dataset import genome_fragments, write_dataset
from genefinder.formats.errors import GeneFinderInputError
from genefinder.train import checkpoints, train
from genefinder.training.training_config import from_dict
from genefinder.training.training_monitor import read_metrics
from genefinder.training.training_recipe import WeightedSampleStream
from genefinder.training.training_tasks import matthews_corrcoef
from real_data import write_slice

TINY = {"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64}
SLICES = {"ecoli": ("ecoli_k12_mg1655", "NC_000913.3", 40_000), "bsub": ("bsubtilis_best7003", "Chromosome", 40_000),
          "mgen": ("mgenitalium_g37", "Chromosome", 16_000)}



@pytest.fixture(scope="module")
def fastas(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("genomes")
    return {label: write_slice(tmp, *spec)[0] for label, spec in SLICES.items()}


@pytest.fixture(scope="module")
def dataset(fastas, tmp_path_factory):
    splits = genome_fragments([f"{path}:{label}" for label, path in fastas.items()], 200, None, 0.1, 0.1, 0)
    out = tmp_path_factory.mktemp("cls") / "ds"
    counts = write_dataset(splits, str(out))
    assert counts["train"] == {"bsub": 160, "ecoli": 160, "mgen": 64}  # unbalanced: M. genitalium is shorter
    return out


def config(dataset, run_dir, **kw):
    base = dict(dataset=str(dataset), run_dir=str(run_dir), model=TINY, batch_size=8, micro_batch_size=4, max_steps=6,
                lr=3e-3, warmup_steps=1, eval_every=0, eval_windows=24, checkpoint_every=1000, log_every=1,
                tensorboard=False, progress_bar=False, cpu_threads=1)
    return from_dict(base | kw)


def losses(run_dir):
    return {r["step"]: r["loss"] for r in read_metrics(run_dir) if r["kind"] == "train"}


def test_fragments_of_different_splits_never_share_a_position(fastas):
    splits = genome_fragments([f"{fastas['mgen']}:mgen"], 200, None, 0.1, 0.1, 0)
    seq = "".join(line.strip() for line in open(fastas["mgen"]) if not line.startswith(">"))
    where = {split: {seq.index(d) for d, _ in rows} for split, rows in splits.items()}
    assert max(where["train"]) + 200 <= min(where["validation"]) and max(where["validation"]) + 200 <= min(where["test"])


@pytest.mark.parametrize("stage,extra", [("mlm", {"rc_augment": True}),
                                         ("classification", {"rc_augment": True, "class_weighted_sampling": True,
                                                             "model": TINY | {"hidden_dropout_prob": 0.1}})])
def test_resume_continues_exactly(dataset, tmp_path, stage, extra):
    kw = dict(stage=stage, **extra)
    train(config(dataset, tmp_path / "straight", **kw))
    train(config(dataset, tmp_path / "cut", checkpoint_every=3, stop_at_step=3, **kw))
    train(config(dataset, tmp_path / "cut", checkpoint_every=3, **kw), resume=True)
    straight, resumed = losses(tmp_path / "straight"), losses(tmp_path / "cut")
    assert sorted(resumed) == list(range(1, 7))
    for step in (4, 5, 6):
        assert abs(resumed[step] - straight[step]) < 1e-6, (step, resumed, straight)


def test_classification_learns_and_reports_accuracy_and_mcc(dataset, tmp_path):
    run = tmp_path / "cls"
    train(config(dataset, run, stage="classification", max_steps=30, eval_every=30, eval_windows=48,
                 class_weighted_sampling=True))
    ev = [r for r in read_metrics(run) if r["kind"] == "eval"][-1]
    assert ev["accuracy"] > 0.5 and ev["mcc"] > 0.2, ev  # chance is 1/3 and MCC 0
    assert (checkpoints(run)[-1] / "modeling_genefinder_encoder.py").is_file()


@pytest.mark.slow
def test_mlm_then_embed_and_classify_commands(dataset, fastas, tmp_path, capsys):
    train(config(dataset, tmp_path / "mlm", stage="mlm", max_steps=4, eval_every=4, eval_windows=8))
    ev = [r for r in read_metrics(tmp_path / "mlm") if r["kind"] == "eval"][-1]
    assert ev["tokens"] > 0 and 0 <= ev["token_accuracy"] <= 1
    mlm = checkpoints(tmp_path / "mlm")[-1]
    # the MLM encoder starts a classifier (init_from_part: encoder)
    train(config(dataset, tmp_path / "cls", stage="classification", max_steps=2, init_from=str(mlm),
                 init_from_part="encoder"))
    cls = checkpoints(tmp_path / "cls")[-1]
    assert main(["embed", str(fastas["mgen"]), "-o", str(tmp_path / "emb.parquet"), "--model", str(mlm),
                 "--batch-size", "2"]) == 0
    table = pq.read_table(tmp_path / "emb.parquet").to_pylist()
    assert [r["id"] for r in table] == ["Chromosome"] and table[0]["length"] == 16_000
    assert len(table[0]["embedding"]) == 32  # 16 kb > 4000-nt context: chunked and averaged
    assert main(["classify", "--model", str(cls), str(fastas["ecoli"]), "-o", str(tmp_path / "p.tsv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "p.tsv"), delimiter="\t"))
    assert rows[0]["label"] in ("bsub", "ecoli", "mgen")
    assert sum(float(rows[0][f"p_{c}"]) for c in ("bsub", "ecoli", "mgen")) == pytest.approx(1, abs=1e-4)
    assert main(["classify", "--model", str(mlm), str(fastas["ecoli"]), "-o", str(tmp_path / "q.tsv")]) == 2
    assert "not a sequence classifier" in capsys.readouterr().err and not (tmp_path / "q.tsv").exists()


def test_csv_source_and_its_errors(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("sequence,label\n" + "".join(f"{'ACGT' * (i + 1)},{'a' if i % 2 else 'b'}\n" for i in range(10)))
    assert main(["build-classification-dataset", "--csv", str(good), "--out", str(tmp_path / "ds")]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,label\nACGT,a\nAC-GT,b\n")
    assert main(["build-classification-dataset", "--csv", str(bad), "--out", str(tmp_path / "ds2")]) == 2
    assert "bad.csv:3: `sequence`: invalid character '-'" in capsys.readouterr().err


def test_weighted_sampling_balances_classes():
    labels = [0] * 90 + [1] * 10
    drawn = WeightedSampleStream(labels, seed=0).take(0, 2000)
    share = sum(labels[i] for i in drawn) / len(drawn)
    assert 0.45 < share < 0.55
    assert WeightedSampleStream(labels, seed=0).take(150, 20) == drawn[150:170]  # step-determined


def test_matthews_corrcoef():
    assert matthews_corrcoef(torch.tensor([[5, 0], [0, 5]])) == pytest.approx(1.0)
    assert matthews_corrcoef(torch.tensor([[3, 2], [2, 3]])) == pytest.approx(0.2)
    assert matthews_corrcoef(torch.tensor([[5, 0], [5, 0]])) == 0.0


def test_encoder_stage_config_errors(dataset, tmp_path):
    with pytest.raises(GeneFinderInputError, match="unknown field `model.d_model` for stage 'mlm'"):
        config(dataset, tmp_path, stage="mlm", model=TINY | {"d_model": 8})
    with pytest.raises(GeneFinderInputError, match="`mlm_probability` must be in"):
        config(dataset, tmp_path, stage="mlm", mlm_probability=0.0)
