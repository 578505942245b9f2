"""The bundled eukaryotic model: a Hub folder under 50 MB that `genefinder annotate --eukaryote` uses without
--model, whose model card demo runs as written in a fresh process on the folder's own code, and which finds the
spliced genes of the bundled A. thaliana example (held-out DNA: chr1 25,000,001-25,100,000)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from genefinder.cli import main
from genefinder.evaluation.evaluation import evaluate_files

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "default_model_eukaryote"
EXAMPLE = ROOT / "examples" / "athaliana_chr1_25000001-25100000"


def test_the_folder_is_small_and_carries_its_decoder_settings_and_splice_sites():
    files = {p.name for p in FOLDER.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "splice_sites.json", "modeling_gene_structure.py",
            "pipeline_genefinder.py", "gene_structure_viterbi.py"} <= files
    assert sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file()) < 50 * 2**20
    assert '"decoding"' in (FOLDER / "config.json").read_text()


def test_model_card_demo_runs_as_written():
    card = (FOLDER / "README.md").read_text()
    demo = re.search(r"## Demo.*?```python\n(.*?)```", card, re.S).group(1)
    assert 'pipeline("gene-finding", model="default_model_eukaryote"' in demo
    code = 'import sys\nsys.modules["genefinder"] = None  # the folder\'s code must be what runs\n' + demo
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("##gff-version 3\n##sequence-region sequence 1 40000\n")
    assert int(re.search(r"^(\d+) genes$", res.stdout, re.M).group(1)) >= 3


def test_annotate_eukaryote_without_model_finds_the_example_genes(tmp_path):
    out = tmp_path / "pred.gff3"
    assert main(["annotate", "--eukaryote", f"{EXAMPLE}.fna.gz", "-o", str(out), "--proteins",
                 str(tmp_path / "p.faa")]) == 0
    assert "default_model_eukaryote (bundled)" in out.read_text()
    scores = evaluate_files(out, f"{EXAMPLE}.gff3.gz").scores
    assert scores["base"].f1 > 0.7 and scores["exon"].f1 > 0.15  # a model that reads no genes scores 0 here
