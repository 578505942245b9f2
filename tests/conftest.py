"""Test-wide fixtures, and the `slow` marker: `pytest -m "not slow"` is the quick subset."""

import pytest
import torch

# Slow tests marked here by node id rather than in their own files
SLOW_ELSEWHERE = (
    "test_gene_structure_annotation.py::test_the_pipeline_from_the_folder_alone_calls_the_same_genes",
    "test_modeling_gene_structure.py::test_hub_folder_loads_in_a_fresh_process_without_the_package",
    "test_gene_structure_training.py::test_resume_is_explicit_keeps_the_settings_and_reads_them_from_the_run",
    "test_default_model_eukaryote.py::test_model_card_demo_runs_as_written",
    "test_default_model_eukaryote.py::test_annotate_eukaryote_without_model_finds_the_example_genes",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes over about a second (a training run, a fresh process, a "
                                       "whole genome), or tests an experiment or one-off tooling rather than the "
                                       "product; deselect with -m \"not slow\"")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("/")[-1].split("[")[0] in SLOW_ELSEWHERE:
            item.add_marker(pytest.mark.slow)


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
