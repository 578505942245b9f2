"""Test-wide fixtures."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Normalised FASTA copies go to a per-session tmp dir, not the user's ~/.cache."""
    monkeypatch.setenv("GENEFINDER_CACHE", str(tmp_path_factory.getbasetemp() / "fasta-cache"))
