"""The bundled default model: a Hub folder under 100 MB that `genefinder annotate` uses without --model, and whose
model card demo runs as written, in a fresh process that loads the folder's own code (trust_remote_code)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from real_data import write_slice

from genefinder.formats.gff3 import read_gff3

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "default_model"


def test_default_model_is_a_small_hub_folder():
    files = {p.name for p in FOLDER.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "tokenizer_config.json", "modeling_genefinder.py",
            "pipeline_genefinder.py"} <= files and (FOLDER / "dna_tokenizer" / "tokenizer.json").is_file()
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size < 100 * 2**20


@pytest.mark.slow
def test_model_card_demo_runs_as_written():
    card = (FOLDER / "README.md").read_text()
    demo = re.search(r"## Demo.*?```python\n(.*?)```", card, re.S).group(1)
    assert 'pipeline("gene-finding", model="default_model"' in demo
    code = 'import sys\nsys.modules["genefinder"] = None  # the folder\'s code must be what runs\n' + demo
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("##gff-version 3\n##sequence-region sequence 1 8192\n")
    assert re.search(r"^\d+ genes$", res.stdout, re.M)


@pytest.mark.slow
def test_annotate_without_model_uses_the_default(tmp_path):
    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 12_000)
    out = tmp_path / "pred.gff3"
    res = subprocess.run([str(Path(sys.executable).parent / "genefinder"), "annotate", str(fa), "-o", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    genes, report = read_gff3(out)
    assert all(g.seqid == "Chromosome" and 1 <= g.start <= g.end <= 12_000 for g in genes)


def test_network_free_load_annotates_as_the_whole_model_does(tmp_path):
    """The default settings load the start scorer alone (network_free_model.py): same genes as the full model."""
    from genefinder.commands.annotate_cli import load_model
    from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator
    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.formats.fasta import FastaFile
    from genefinder.models.network_free_model import MODEL_TYPE, NetworkFreeModel

    assert MODEL_TYPE == GeneFinderConfig.model_type
    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 30_000)
    seq = FastaFile(fa).fetch("Chromosome", 0, 30_000)
    genes = {}
    for network_free in (False, True):
        model, tok, inputs = load_model(None, "cpu", network_free)
        assert isinstance(model, NetworkFreeModel) == network_free
        annotator = GeneFinderAnnotator(model, tok, inputs, AnnotationSettings())
        assert annotator.decoding == "orf"
        annotator.self_train(lambda: [seq])
        genes[network_free] = annotator.annotate_record("Chromosome", len(seq), lambda s, e: seq[s:e])[0].genes
    assert len(genes[True]) > 10 and genes[True] == genes[False]


@pytest.mark.slow
def test_default_annotate_imports_no_network_code(tmp_path):
    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 6_000)
    code = ("import sys; from genefinder.cli import main; status = main(['annotate', sys.argv[1], '-o', sys.argv[2]]); "
            "print(status, [m for m in ('transformers', 'genefinder.modeling_genefinder') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code, str(fa), str(tmp_path / "x.gff3")], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.strip().splitlines()[-1] == "0 []", res.stdout + res.stderr[-2000:]
    # a setting that needs the network's head loads the whole model
    res = subprocess.run([sys.executable, "-c", code.replace("sys.argv[2]]", "sys.argv[2], '--set', 'head_weight=0.1']"),
                          str(fa), str(tmp_path / "y.gff3")], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "'genefinder.modeling_genefinder'" in res.stdout, res.stderr[-2000:]


@pytest.mark.slow
def test_damaged_weights_get_one_line_error_on_the_network_free_path(tmp_path):
    import shutil

    bad = tmp_path / "model"
    shutil.copytree(FOLDER, bad, ignore=shutil.ignore_patterns("*.py"))
    with open(bad / "model.safetensors", "r+b") as fh:
        fh.truncate(4096)
    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 3_000)
    res = subprocess.run([str(Path(sys.executable).parent / "genefinder"), "annotate", str(fa), "-o",
                          str(tmp_path / "x.gff3"), "--model", str(bad)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "cannot read the start scorer" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.gff3").exists()


@pytest.mark.slow
def test_contigs_get_their_cut_genes_marked_partial_unless_ends_are_closed(tmp_path):
    """A draft assembly's contigs cut genes: ORF decoding calls them partial (NCBI's start_range / end_range)."""
    import shutil

    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 30_000)
    seq = "".join(fa.read_text().splitlines()[1:])
    contigs = tmp_path / "contigs.fa"
    contigs.write_text("".join(f">c{i}\n{seq[i:i + 7_500]}\n" for i in range(0, 30_000, 7_500)))
    genefinder = str(Path(sys.executable).parent / "genefinder")
    rows = {}
    for flags in ((), ("--set", "closed_ends=true")):
        out = tmp_path / f"pred{len(flags)}.gff3"
        res = subprocess.run([genefinder, "annotate", str(contigs), "-o", str(out), *flags], capture_output=True,
                             text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        rows[flags] = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")]
        if shutil.which("gt"):
            check = subprocess.run(["gt", "gff3validator", str(out)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
    partial = [r for r in rows[()] if r[2] == "CDS" and "partial=true" in r[8]]
    assert len(partial) >= 3 and not any("partial=true" in r[8] for r in rows[("--set", "closed_ends=true")])
    for r in partial:  # cut at a contig's end, on whole codons
        start, end = int(r[3]), int(r[4])
        assert (end - start + 1) % 3 == 0 and r[7] == "0"
        assert ("start_range" not in r[8] or start <= 3) and ("end_range" not in r[8] or end >= 7_498)


def test_short_records_decoded_joined_get_the_genes_each_gets_alone(tmp_path):
    """The final pass decodes short records joined, as self-training does (annotation.record_groups): the same
    genes, scores and partial flags as decoding each record alone."""
    from genefinder.commands.annotate_cli import load_model
    from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator

    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 30_000)
    seq = "".join(fa.read_text().splitlines()[1:])
    names, records = [f"c{i}" for i in range(4)], [seq[i:i + 7_500] for i in range(0, 30_000, 7_500)]
    model, _, _ = load_model(None, "cpu", network_free=True)
    annotator = GeneFinderAnnotator(model, None, None, AnnotationSettings())
    assert annotator.joins_records
    annotator.self_train(lambda: iter(records))
    joined = annotator.annotate_joined(names, records)
    alone = [annotator.annotate_record(n, len(r), lambda s, e, r=r: r[s:e])[0] for n, r in zip(names, records)]
    assert joined == alone and [p.seqid for p in joined] == names
    assert [[g.score for g in p.genes] for p in joined] == [[g.score for g in p.genes] for p in alone]
    genes = [g for p in joined for g in p.genes]
    assert len(genes) > 15 and any(t.partial_left or t.partial_right for g in genes for t in g.transcripts)


def test_a_run_interrupted_between_groups_of_records_resumes_to_the_same_bytes(tmp_path, monkeypatch):
    """Short records are decoded in groups (one unit of work each, logged as it finishes): a run killed after the
    first group resumes from the log to the output an uninterrupted run writes."""
    from genefinder.commands import annotate_cli
    from genefinder.annotation.annotation import GeneFinderAnnotator
    from genefinder.cli import main

    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 30_000)
    seq = "".join(fa.read_text().splitlines()[1:])
    contigs = tmp_path / "contigs.fa"
    contigs.write_text("".join(f">c{n}\n{seq[i:i + 5_000]}\n" for n, i in enumerate(range(0, 30_000, 5_000))))
    monkeypatch.setattr(annotate_cli, "JOIN_NT", 12_000)  # groups of two 5-kb records
    assert main(["annotate", str(contigs), "-o", str(tmp_path / "whole.gff3")]) == 0
    calls, dies_at = [], [2]
    joined = GeneFinderAnnotator.annotate_joined

    def dies_on_the_second_group(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) in dies_at:
            raise KeyboardInterrupt
        return joined(self, *args, **kwargs)

    monkeypatch.setattr(GeneFinderAnnotator, "annotate_joined", dies_on_the_second_group)
    out = tmp_path / "resumed.gff3"
    assert main(["annotate", str(contigs), "-o", str(out)]) == 130 and not out.exists()
    assert calls == [["c0", "c1"], ["c2", "c3"]]
    log = (tmp_path / "resumed.gff3.partial.0.jsonl").read_text().splitlines()
    assert len(log) == 1  # the first group's two records
    calls.clear()
    dies_at.clear()
    assert main(["annotate", str(contigs), "-o", str(out), "--resume"]) == 0
    assert calls == [["c2", "c3"], ["c4", "c5"]] and out.read_text() == (tmp_path / "whole.gff3").read_text()
    assert not list(tmp_path.glob("*.partial.*"))
