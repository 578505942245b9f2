"""The bundled default model: a Hub folder under 100 MB that `genefinder annotate` uses without --model, and whose
model card demo runs as written, in a fresh process that loads the folder's own code (trust_remote_code)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from real_data import write_slice

from genefinder.gff3 import read_gff3

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "default_model"


def test_default_model_is_a_small_hub_folder():
    files = {p.name for p in FOLDER.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "tokenizer_config.json", "modeling_genefinder.py",
            "pipeline_genefinder.py"} <= files and (FOLDER / "dna_tokenizer" / "tokenizer.json").is_file()
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())  # follows the code symlinks
    assert size < 100 * 2**20
    for code in FOLDER.glob("*.py"):  # linked code must resolve to the package's file of the same name
        assert code.resolve().is_file() and code.resolve().name == code.name


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


def test_annotate_without_model_uses_the_default(tmp_path):
    fa, _ = write_slice(tmp_path, "bsubtilis_best7003", "Chromosome", 12_000)
    out = tmp_path / "pred.gff3"
    res = subprocess.run([str(Path(sys.executable).parent / "genefinder"), "annotate", str(fa), "-o", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    genes, report = read_gff3(out)
    assert all(g.seqid == "Chromosome" and 1 <= g.start <= g.end <= 12_000 for g in genes)
