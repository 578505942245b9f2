"""Test-wide fixtures."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Normalised FASTA copies go to a per-session tmp dir, not the user's ~/.cache."""
    monkeypatch.setenv("GENEFINDER_CACHE", str(tmp_path_factory.getbasetemp() / "fasta-cache"))


@pytest.fixture(autouse=True, scope="module")
def _restore_torch_threads():
    """Training with cpu_threads: 1 (tiny models run fastest single-threaded on a busy CPU) must not leak into
    other test modules."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
