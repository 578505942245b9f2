import subprocess
import sys

import datasets
import pytest
from real_data import write_slice

from genefinder.datasets_scripts.build_dataset import GenomeSource, build_dataset
from genefinder.formats.errors import GeneFinderInputError
from genefinder.formats.windows import reverse_complement
from genefinder.tokenization_gff import GFFTokenizer


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ds")
    fa, gff = write_slice(tmp, "ecoli_k12_mg1655", "NC_000913.3", 200_000)
    fa2, gff2 = write_slice(tmp, "mgenitalium_g37", "Chromosome", 100_000)
    out = tmp / "dataset"
    stats = build_dataset([GenomeSource(str(fa), str(gff), "ecoli"), GenomeSource(str(fa2), str(gff2), "mgen", 4)],
                          str(out), window=4096, stride=2048, rc_augment=True, split_by="region",
                          val_fraction=0.1, test_fraction=0.1)
    return datasets.load_from_disk(str(out)), stats, fa


def test_splits_share_no_nucleotide(built):
    dd, _, _ = built
    spans = {split: {(r["organism"], r["start"], r["start"] + r["length"]) for r in dd[split]} for split in dd}
    for org in ("ecoli", "mgen"):
        train_end = max(e for o, s, e in spans["train"] if o == org)
        val = [(s, e) for o, s, e in spans["validation"] if o == org]
        test = [(s, e) for o, s, e in spans["test"] if o == org]
        assert train_end <= min(s for s, _ in val) and max(e for _, e in val) <= min(s for s, _ in test)


def test_rows_hold_dna_features_and_their_tokens(built):
    dd, stats, fasta = built
    tok = GFFTokenizer()
    seq = "".join(fasta.read_text().splitlines()[1:])
    rows = dd["train"].filter(lambda r: r["organism"] == "ecoli").select(range(20))
    for r in rows:
        dna = seq[r["start"]:r["start"] + r["length"]]
        assert r["dna"] == (dna if r["orientation"] == "+" else reverse_complement(dna))
        genes = tok.decode_genes(r["target_ids"], window_length=r["length"])
        assert len(genes) == len(r["features"])
        for g, row in zip(genes, r["features"]):
            assert g.strand == row["strand"]
            assert [(c.start, c.end, c.phase) for c in g.transcripts[0].cds] == \
                [(c["start"], c["end"], c["phase"]) for c in row["transcripts"][0]["cds"]]
    assert set(dd["train"]["genetic_code"]) == {11, 4}
    assert stats["train"]["windows"] == len(dd["train"]) and 0.7 < stats["train"]["coding_fraction"] < 0.95


def test_bad_gff_fails_cleanly_and_leaves_no_output(tmp_path):
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 20_000)
    bad = tmp_path / "bad.gff3"
    bad.write_text(gff.read_text().replace("NC_000913.3", "chrX", 1))
    with pytest.raises(GeneFinderInputError, match=r"bad.gff3:2: sequence 'chrX' is not in"):
        build_dataset([GenomeSource(str(fa), str(bad), "x")], str(tmp_path / "out"), 4096, 2048)
    beyond = tmp_path / "beyond.gff3"
    beyond.write_text("##gff-version 3\nNC_000913.3\tx\tgene\t19000\t21000\t.\t+\t.\tID=g\n"
                      "NC_000913.3\tx\tCDS\t19000\t21000\t.\t+\t0\tParent=g\n")
    with pytest.raises(GeneFinderInputError, match=r"beyond.gff3:2: feature ends at 21000, beyond the end"):
        build_dataset([GenomeSource(str(fa), str(beyond), "x")], str(tmp_path / "out"), 4096, 2048)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fa.name, gff.name, "bad.gff3", "beyond.gff3"])


@pytest.mark.slow
def test_cli_prints_statistics_and_one_line_errors(tmp_path):
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 60_000)
    cmd = [sys.executable, "-m", "genefinder.cli", "build-dataset", "--fasta", str(fa), "--gff", str(gff),
           "--window", "8192", "--stride", "4096", "--out", str(tmp_path / "ds")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "train" in res.stdout and "target tokens median/p95/max" in res.stdout
    res = subprocess.run(cmd, capture_output=True, text=True)  # output exists now
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert "output directory already exists" in res.stderr and "Traceback" not in res.stderr
    bad = tmp_path / "bad.fa"
    bad.write_text(">x\nACGT\nAC*T\n")
    res = subprocess.run(cmd[:5] + [str(bad)] + cmd[6:-1] + [str(tmp_path / "ds2")], capture_output=True, text=True)
    assert res.returncode == 2 and f"{bad}:3: invalid character '*'" in res.stderr
