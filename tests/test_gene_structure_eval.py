import numpy as np
import pytest

from genefinder.models.modeling_gene_structure import encode_dna
from genefinder.training import gene_structure_data as data
from genefinder.training.gene_structure_eval import GeneLevelValidation, ids_to_dna
from genefinder.training.gene_structure_labels import gene_structure_labels

from real_data import DATA


def test_ids_to_dna_inverts_encode_dna():
    assert ids_to_dna(encode_dna("ACGTNacgtn")) == "ACGTNacgtn"


class LabelOracle:
    """Stands in for the network: log-probabilities that put 0.98 on the annotated class of each nucleotide."""

    def __init__(self, validation: GeneLevelValidation):
        self.labels = {dna: gene_structure_labels(ref, len(dna)) for _, dna, ref in validation.stretches}

    def predict_log_probs(self, dna: str) -> np.ndarray:
        probs = np.full((len(dna), 9), 0.0025, dtype=np.float32)
        probs[np.arange(len(dna)), self.labels[dna]] = 0.98
        return np.log(probs)


def test_annotated_labels_decode_back_into_the_reference_genes(tmp_path, monkeypatch):
    """H. sapiens fragment: labels of the annotation, decoded, give its exons back (the class contract holds)."""
    if not (DATA / "hsapiens_chr16_fragment").exists():
        pytest.skip("shared data not found")
    monkeypatch.setattr(data, "DATA_DIR", DATA)
    monkeypatch.setitem(data.SOURCES, "hs", data.Source("hs", "hsapiens_chr16_fragment"))
    monkeypatch.setattr("genefinder.training.gene_structure_eval.DATA_DIR", DATA)
    data.build_cache(tmp_path, ["hs"])
    validation = GeneLevelValidation(data.load_arrays(tmp_path, "hs"), 2, 100_000, source="hs")
    assert [s[0] for s in validation.stretches] == ["stretch0", "stretch1"]
    scores = validation(LabelOracle(validation))
    assert scores["reference_genes"] >= 4
    assert scores["base_f1"] > 0.95 and scores["exon_f1"] > 0.9
    with pytest.raises(ValueError, match="do not fit"):
        GeneLevelValidation(data.load_arrays(tmp_path, "hs"), 3, 100_000, source="hs")
