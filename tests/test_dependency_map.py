import numpy as np
import pytest
import torch
from mlm_fixtures import tiny_mlm_folder, tiny_scorer
from vcf_fixtures import SEQID, ecoli_slice

from genefinder import cli
from genefinder.encoder_tools.dependency_map import base_log_odds, dependency_map
from genefinder.formats.errors import GeneFinderInputError


def test_base_log_odds_is_logit_of_the_renormalised_acgt_distribution():
    log_probs = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.1], [0.7, 0.1, 0.1, 0.1]]))  # the first sums to 0.7
    p = torch.exp(log_probs) / torch.exp(log_probs).sum(-1, keepdim=True)
    assert torch.allclose(base_log_odds(log_probs), torch.log(p / (1 - p)), atol=1e-6)


def test_batched_map_equals_the_naive_loop_on_a_real_20_nt_sequence(tmp_path):
    """The paper's definition written out with numpy, one forward pass per substitution, against the batched map."""
    _, genome = ecoli_slice(tmp_path)
    seq = genome[5000:5020].upper()
    lm = tiny_scorer(tmp_path)
    ids, _ = lm.encode(seq)
    base_ids = lm.base_ids()

    def logits_at_bases(token_ids):
        p = np.exp(lm.log_probs([tuple(token_ids)])[0][:, base_ids].numpy().astype(np.float64))  # (n, 4)
        p /= p.sum(-1, keepdims=True)
        return np.log(p / (1 - p))

    reference = logits_at_bases(ids)
    naive = np.zeros((20, 20))
    for i in range(20):
        for b, base in enumerate("ACGT"):
            if base != seq[i]:
                mutated = list(ids)
                mutated[i] = base_ids[b]
                naive[i] = np.maximum(naive[i], np.abs(logits_at_bases(mutated) - reference).max(-1))
    np.fill_diagonal(naive, 0.0)
    batched = dependency_map(lm, seq, batch_size=7)
    assert batched.shape == (20, 20) and np.all(np.diag(batched) == 0)
    np.testing.assert_allclose(batched, naive, atol=1e-4)
    assert naive[~np.eye(20, dtype=bool)].min() > 0  # every substitution moves every other prediction a little


def test_rejects_long_sequences_and_multi_nucleotide_models(tmp_path):
    with pytest.raises(GeneFinderInputError, match="1001 nt; a dependency map needs 2 to --max-length=1000"):
        dependency_map(tiny_scorer(tmp_path), "A" * 1001)
    with pytest.raises(GeneFinderInputError, match="single-nucleotide model .* has encoder_type='aido', kmer=3"):
        dependency_map(tiny_scorer(tmp_path, "aido", kmer=3), "ACGTACGTAC")


@pytest.mark.slow
def test_cli_region_of_a_real_genome_writes_png_and_tsv(tmp_path, capsys):
    fa, genome = ecoli_slice(tmp_path)
    model = tiny_mlm_folder(tmp_path / "mlm")
    out, tsv = tmp_path / "map.png", tmp_path / "map.tsv"
    status = cli.main(["dependency-map", "--model", str(model), "--fasta", str(fa), "--region", f"{SEQID}:101-140",
                       "-o", str(out), "--tsv", str(tsv)])
    assert status == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [line.split("\t") for line in tsv.read_text().splitlines()]
    assert rows[0] == ["position", *map(str, range(101, 141))] and [r[0] for r in rows[1:]] == rows[0][1:]
    matrix = np.array([r[1:] for r in rows[1:]], dtype=float)
    assert matrix.shape == (40, 40) and np.all(np.diag(matrix) == 0) and np.all(matrix >= 0)
    seq_map = tmp_path / "seq.png"
    assert cli.main(["dependency-map", "--model", str(model), "--sequence", genome[100:140], "-o", str(seq_map),
                     "--tsv", str(tmp_path / "seq.tsv")]) == 0
    assert (tmp_path / "seq.tsv").read_text().splitlines()[1:] != []
    assert cli.main(["dependency-map", "--model", str(model), "--sequence", "ACGT*", "-o", str(seq_map)]) == 2
    assert "invalid character '*' at position 4" in capsys.readouterr().err
