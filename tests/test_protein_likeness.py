"""The protein-likeness probe's own arithmetic (experiments/protein_likeness/probe.py): its AUC is the
Mann-Whitney statistic with ties counted half, stops are signed by strand as the reference's are read, and a
protein becomes residue ids without its start and stop."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments" / "protein_likeness"))
from probe import MAX_RESIDUES, ProteinCNN, residue_ids, roc_auc, stops_of  # noqa: E402

pytestmark = pytest.mark.slow  # the protein-likeness experiment's script (experiments/), not the product


def test_roc_auc_counts_pairs_and_halves_ties():
    real = np.array([False, False, True, True])
    assert roc_auc(np.array([1.0, 2, 3, 4]), real) == 1.0
    assert roc_auc(np.array([4.0, 3, 2, 1]), real) == 0.0
    assert roc_auc(np.array([1.0, 3, 2, 4]), real) == 0.75  # 3 of the 4 (real, false) pairs in order
    assert roc_auc(np.ones(4), real) == 0.5
    assert roc_auc(np.array([1.0, 2, 2, 3]), real) == pytest.approx(0.875)  # one tied pair counts half
    assert np.isnan(roc_auc(np.array([1.0, 2]), np.array([True, True])))


def test_stops_are_signed_by_strand():
    plus = np.array([True, False])
    assert stops_of(plus, np.array([10, 10]), np.array([99, 99])).tolist() == [99, -10]


def test_residue_ids_drop_start_and_stop_and_pad():
    ids = residue_ids("MAKX*")
    assert ids[:3].tolist() == [1, 9, 21] and not ids[3:].any() and len(ids) == MAX_RESIDUES


def test_the_cnn_reads_padding_as_nothing():
    torch.manual_seed(0)
    net = ProteinCNN().eval()
    short = residue_ids("MAKLLW*")
    with torch.no_grad():
        alone = net(torch.from_numpy(short[None]))
        padded_more = net(torch.from_numpy(np.concatenate([short, np.zeros(5, np.int64)])[None]))
    assert alone.shape == (1,) and torch.allclose(alone, padded_more, atol=1e-5)
