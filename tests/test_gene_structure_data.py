import json

import numpy as np
import pytest

from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.windows import reverse_complement, reverse_complement_genes
from genefinder.models.modeling_gene_structure import encode_dna
from genefinder.training import gene_structure_data as data
from genefinder.training.gene_structure_labels import gene_structure_labels, gene_structure_mask


def synthetic_record() -> tuple[str, list[Gene]]:
    """80 nt: a spliced '+' ORF (ATG AAA | CCC TAA) and a '-' ORF, with soft-masked and N stretches."""
    rng = np.random.default_rng(3)
    seq = list("".join(rng.choice(list("ACGT"), 80)))
    for p, b in zip(list(range(4, 10)) + list(range(16, 22)), "ATGAAACCCTAA"):
        seq[p - 1] = b
    minus = reverse_complement("ATGGGGTGA")
    seq[49:58] = list(minus)  # '-' ORF at 50..58
    seq[60:66] = list("acgtNn")
    genes = [Gene("+", (Transcript("mRNA", cds=(CDSPart(4, 9, 0), CDSPart(16, 21, 0))),)),
             Gene("-", (Transcript("mRNA", cds=(CDSPart(50, 58, 0),)),))]
    return "".join(seq), genes


def test_reverse_complement_window_matches_the_reverse_complemented_annotation():
    dna, genes = synthetic_record()
    n = len(dna)
    ids, labels, mask = encode_dna(dna), gene_structure_labels(genes, n), gene_structure_mask(genes, dna)
    assert mask.all() and set(labels.tolist()) >= {1, 4, 7}
    rc_ids, rc_labels, rc_mask = data.reverse_complement_window(ids, labels, mask)
    rc_dna, rc_genes = reverse_complement(dna), reverse_complement_genes(genes, n)
    assert np.array_equal(rc_ids, encode_dna(rc_dna))
    assert np.array_equal(rc_labels, gene_structure_labels(rc_genes, n))
    assert np.array_equal(rc_mask, gene_structure_mask(rc_genes, rc_dna))


def write_source(cache, name: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder = cache / name
    folder.mkdir(parents=True)
    labels = rng.integers(0, 9, n).astype(np.int8)
    np.save(folder / "ids.npy", rng.integers(0, 10, n).astype(np.int8))
    np.save(folder / "labels.npy", labels)
    np.save(folder / "mask.npy", (rng.random(n) < 0.9).astype(np.uint8))
    (folder / "counts.json").write_text(json.dumps({"length": n, "masked_out": 0,
                                                    "class_counts": np.bincount(labels, minlength=9).tolist()}))


def test_batches_are_a_pure_function_of_the_step(tmp_path):
    write_source(tmp_path, "a", 500, 0)
    write_source(tmp_path, "b", 30, 1)  # shorter than the window: padded with masked N
    sources = [data.load_arrays(tmp_path, "a"), data.load_arrays(tmp_path, "b")]
    sampler = data.WindowSampler(sources, [1.0, 1.0], window=50, batch_size=16, seed=7)
    ids, labels, mask = sampler.batch(3)
    assert ids.shape == labels.shape == mask.shape == (16, 50)
    assert ids.dtype == np.int64 and mask.dtype == np.float32
    again = data.WindowSampler(sources, [1.0, 1.0], window=50, batch_size=16, seed=7).batch(3)
    assert all(np.array_equal(x, y) for x, y in zip((ids, labels, mask), again))
    assert not np.array_equal(ids, sampler.batch(4)[0])
    def padding(cols):  # N, label 0 and masked over these columns
        return (ids[:, cols] % 5 == 4).all(1) & (labels[:, cols] == 0).all(1) & (mask[:, cols] == 0).all(1)
    assert (padding(slice(30, 50)) | padding(slice(0, 20))).any()  # a 30-nt source's window, either strand


def test_windows_are_reverse_complemented_and_unmasked_about_half_the_time(tmp_path):
    write_source(tmp_path, "a", 400, 0)
    source = data.load_arrays(tmp_path, "a")
    sampler = data.WindowSampler([source], [1.0], window=400, batch_size=200, seed=1, unmask_probability=0.5)
    ids, labels, _ = sampler.batch(1)
    forward = np.all(labels == source.labels, axis=1)
    assert 0.3 < forward.mean() < 0.7
    soft = (ids >= 5).any(axis=1)
    assert 0.3 < soft.mean() < 0.7  # the source has lowercase everywhere; unmasked windows have none


def test_validation_windows_are_fixed_and_disjoint(tmp_path):
    write_source(tmp_path, "v", 1000, 0)
    spans = data.validation_windows(data.load_arrays(tmp_path, "v"), 4, 200)
    assert spans == [(0, 200), (250, 450), (500, 700), (750, 950)]
    with pytest.raises(ValueError, match="do not fit"):
        data.validation_windows(data.load_arrays(tmp_path, "v"), 6, 200)


def test_test_regions_are_never_sources():
    assert all(s.directory != "celegans_1pct" for s in data.SOURCES.values())
    assert max(s.end or 0 for s in data.SOURCES.values() if s.directory == "athaliana_chr1") == 25_000_000
    assert data.SOURCES["athaliana_train"].end < data.SOURCES["athaliana_validation"].start
    with pytest.raises(ValueError, match="test set"):
        data.build_arrays(data.Source("x", "celegans_1pct"))


def test_real_source_cache_is_consistent(tmp_path, monkeypatch):
    """The H. sapiens fragment cached: one record, labels and mask from the annotation, spacer-free."""
    from real_data import DATA
    if not (DATA / "hsapiens_chr16_fragment").exists():
        pytest.skip("shared data not found")
    monkeypatch.setattr(data, "DATA_DIR", DATA)
    data.build_cache(tmp_path, ["hsapiens_chr16"])
    arrays = data.load_arrays(tmp_path, "hsapiens_chr16")
    counts = json.loads((tmp_path / "hsapiens_chr16" / "counts.json").read_text())
    assert len(arrays) == counts["length"] == 210_155
    assert np.array_equal(np.bincount(arrays.labels[arrays.mask > 0], minlength=9), counts["class_counts"])
    assert (arrays.ids >= 5).mean() > 0.3  # 41% soft-masked in the source
