"""Tests for tokenization_dna.py and datasets_scripts/train_dna_bpe.py.

Golden checks against the published DNABERT-2 tokenizer (ids as the `tokenizers` library gives them) and
AIDO.DNA's fixed ids, real E. coli slices, and round-trip properties of the one normalization policy.
"""

import argparse
import gzip
import itertools
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from genefinder.datasets_scripts.train_dna_bpe import add_arguments, run, train_dna_bpe
from genefinder.tokenization.tokenization_dna import (
    AIDO_DNA_VOCAB,
    DNACharTokenizer,
    encode_bpe,
    load_dnabert2_tokenizer,
    normalize_dna,
)
from real_data import DATA, REFERENCE

DNABERT2_DIR = REFERENCE / "dnabert2"
ECOLI_FASTA = DATA / "ecoli_k12_mg1655" / "genome.fna.gz"
REFERENCE_SEQ = "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC"
# Tokenizer.from_file(DNABERT2_DIR / "tokenizer.json").encode(REFERENCE_SEQ).ids, recorded once.
REFERENCE_IDS = [1, 5, 194, 32, 757, 1239, 2092, 294, 24, 359, 88, 93, 32, 75, 77, 19, 2]


@pytest.fixture(scope="module")
def ecoli() -> str:
    """The E. coli K-12 chromosome as one upper-case string (plain gzip parsing: test-only)."""
    if not ECOLI_FASTA.exists():
        pytest.skip(f"{ECOLI_FASTA} not present")
    with gzip.open(ECOLI_FASTA, "rt") as fh:
        return "".join(line.strip() for line in fh if not line.startswith(">"))


@pytest.fixture(scope="module")
def dnabert2():
    if not DNABERT2_DIR.exists():
        pytest.skip(f"{DNABERT2_DIR} not present")
    return load_dnabert2_tokenizer(DNABERT2_DIR)


@pytest.fixture(scope="module")
def char_tokenizer() -> DNACharTokenizer:
    return DNACharTokenizer()


def mixed_slice(ecoli: str, start: int, length: int) -> str:
    """A real slice made awkward: a soft-masked stretch, IUPAC codes, an N run and a U."""
    s = ecoli[start : start + length]
    return s[:100] + s[100:400].lower() + "RYKMSWBDHV" + "ryk" + "NNNNN" + "u" + s[419:]


# --- normalize_dna ---------------------------------------------------------------------------------------


def test_normalize_dna_policy():
    assert normalize_dna("acgtnACGTN") == "ACGTNACGTN"
    assert normalize_dna("RYKMSWBDHVrykmswbdhv") == "N" * 20
    assert normalize_dna("AuU") == "AUU"
    assert normalize_dna("AuU", keep_u=False) == "ATT"
    assert normalize_dna("") == ""


@pytest.mark.parametrize("seq, char, position", [("ACGT-A", "-", 4), ("A CG", " ", 1), ("ACGTé", "é", 4),
                                                 ("X", "X", 0), ("ACG\n", "\n", 3), ("AC\x00", "\x00", 2)])
def test_normalize_dna_names_bad_character_and_position(seq, char, position):
    with pytest.raises(ValueError, match=re.escape(f"{char!r} at position {position} ")):
        normalize_dna(seq)


# --- DNACharTokenizer ------------------------------------------------------------------------------------


def test_char_tokenizer_uses_aido_ids(char_tokenizer):
    expected = {"[PAD]": 0, "[MASK]": 1, "[CLS]": 2, "[SEP]": 3, "[UNK]": 4,
                "A": 5, "G": 6, "C": 7, "T": 8, "U": 9, "N": 10}
    assert char_tokenizer.get_vocab() == expected
    assert len(char_tokenizer) == char_tokenizer.vocab_size == 11
    assert (char_tokenizer.pad_token_id, char_tokenizer.mask_token_id, char_tokenizer.cls_token_id,
            char_tokenizer.sep_token_id, char_tokenizer.unk_token_id) == (0, 1, 2, 3, 4)
    assert char_tokenizer("AGCTUN")["input_ids"] == [2, 5, 6, 7, 8, 9, 10, 3]
    assert char_tokenizer("AGCTUN", add_special_tokens=False)["input_ids"] == [5, 6, 7, 8, 9, 10]


def test_char_tokenizer_lowercase_and_iupac(char_tokenizer):
    assert char_tokenizer("agctun", add_special_tokens=False)["input_ids"] == [5, 6, 7, 8, 9, 10]
    assert char_tokenizer("RyKmSwBdHv", add_special_tokens=False)["input_ids"] == [10] * 10
    with pytest.raises(ValueError, match="'Z' at position 2 "):
        char_tokenizer("ACZ")


def test_char_tokenizer_special_tokens_are_consistent(char_tokenizer):
    ids = char_tokenizer("AC", "GT")["input_ids"]
    assert ids == char_tokenizer.build_inputs_with_special_tokens([5, 7], [6, 8]) == [2, 5, 7, 3, 6, 8, 3]
    assert char_tokenizer.get_special_tokens_mask([5, 7], [6, 8]) == [1, 0, 0, 1, 0, 0, 1]
    assert char_tokenizer.num_special_tokens_to_add() == 2
    # A special token written in the text stays one token; the bases around it are still normalized.
    assert char_tokenizer("ac[MASK]gt")["input_ids"] == [2, 5, 7, 1, 6, 8, 3]
    assert char_tokenizer.decode(char_tokenizer("acgt")["input_ids"]) == "[CLS]ACGT[SEP]"


def test_char_tokenizer_fast_path_equals_slow_path(char_tokenizer, ecoli):
    seq = mixed_slice(ecoli, 1_000_000, 5_000)
    fast = char_tokenizer.encode_dna(seq)
    assert fast.dtype == torch.long and fast.shape == (len(seq) + 2,)
    assert fast.tolist() == char_tokenizer(seq)["input_ids"]
    assert char_tokenizer.encode_dna(seq, add_special_tokens=False).tolist() == char_tokenizer(
        seq, add_special_tokens=False)["input_ids"]
    assert char_tokenizer.encode_dna("", add_special_tokens=False).shape == (0,)


def test_char_tokenizer_save_and_reload_keeps_custom_arguments(tmp_path):
    tokenizer = DNACharTokenizer(add_cls_sep=False)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.txt").read_text().split() == list(AIDO_DNA_VOCAB)
    reloaded = DNACharTokenizer.from_pretrained(tmp_path)
    assert reloaded.add_cls_sep is False
    assert reloaded.get_vocab() == tokenizer.get_vocab()
    assert reloaded("ACGTN")["input_ids"] == [5, 7, 6, 8, 10]
    assert reloaded.encode_dna("ACGTN").tolist() == [5, 7, 6, 8, 10]


def test_char_tokenizer_loads_as_remote_code(tmp_path):
    from genefinder.hub.remote_code import ENCODER_FILES, write_remote_code

    DNACharTokenizer(add_cls_sep=False).save_pretrained(tmp_path)  # tokenizer_config.json's auto_map names it
    write_remote_code(tmp_path, ENCODER_FILES)
    assert (tmp_path / "tokenization_dna.py").exists()
    loaded = AutoTokenizer.from_pretrained(tmp_path, trust_remote_code=True)
    assert type(loaded).__name__ == "DNACharTokenizer" and loaded.add_cls_sep is False
    assert loaded("acgtun")["input_ids"] == [5, 7, 6, 8, 9, 10]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ACGTNacgtn", max_size=300))
def test_char_decode_inverts_encode_up_to_normalization(char_tokenizer, seq):
    ids = char_tokenizer(seq)["input_ids"]
    assert char_tokenizer.decode(ids, skip_special_tokens=True) == normalize_dna(seq)
    assert char_tokenizer.encode_dna(seq).tolist() == ids


# --- DNABERT-2 BPE ---------------------------------------------------------------------------------------


def test_dnabert2_ids_match_tokenizers_library(dnabert2):
    raw = Tokenizer.from_file(str(DNABERT2_DIR / "tokenizer.json"))
    assert raw.encode(REFERENCE_SEQ).ids == REFERENCE_IDS
    assert dnabert2(REFERENCE_SEQ)["input_ids"] == REFERENCE_IDS
    assert load_dnabert2_tokenizer(DNABERT2_DIR / "tokenizer.json")(REFERENCE_SEQ)["input_ids"] == REFERENCE_IDS
    assert (dnabert2.unk_token_id, dnabert2.cls_token_id, dnabert2.sep_token_id,
            dnabert2.pad_token_id, dnabert2.mask_token_id) == (0, 1, 2, 3, 4)
    assert [dnabert2.convert_tokens_to_ids(base) for base in "ACGT"] == [5, 6, 7, 8]


def test_dnabert2_ids_match_on_ecoli_slice_without_the_published_truncation(dnabert2, ecoli):
    seq = ecoli[2_000_000:2_005_000]
    raw = Tokenizer.from_file(str(DNABERT2_DIR / "tokenizer.json"))
    assert len(raw.encode(seq).ids) == 636  # the published file silently truncates
    raw.no_truncation()
    expected = raw.encode(seq).ids
    assert len(expected) > 1000
    assert dnabert2(seq)["input_ids"] == expected
    assert encode_bpe(dnabert2, seq.lower(), add_special_tokens=True)["input_ids"] == expected


def test_dnabert2_n_iupac_u_and_lowercase(dnabert2):
    ids = encode_bpe(dnabert2, "acgtNRyACGT")["input_ids"]
    assert ids == dnabert2("ACGTNNNACGT", add_special_tokens=False)["input_ids"]
    assert ids[3:6] == [0, 0, 0]  # each N is its own [UNK]; no merge crosses it
    assert encode_bpe(dnabert2, "ACGU")["input_ids"] == encode_bpe(dnabert2, "ACGT")["input_ids"]


def assert_offsets_tile(offsets, length):
    assert offsets[0][0] == 0 and offsets[-1][1] == length
    assert all(end > start for start, end in offsets)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(offsets))


def test_dnabert2_offsets_tile_a_real_slice(dnabert2, ecoli):
    seq = mixed_slice(ecoli, 3_000_000, 5_000)
    encoding = encode_bpe(dnabert2, seq)
    offsets = encoding["offset_mapping"]
    assert len(offsets) == len(encoding["input_ids"])
    assert_offsets_tile(offsets, len(seq))
    for position in (0, 99, 100, 2_500, len(seq) - 1):
        start, end = offsets[encoding.char_to_token(position)]
        assert start <= position < end


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ACGTNUacgtnuRYry", min_size=1, max_size=300))
def test_dnabert2_offsets_tile_any_sequence(dnabert2, seq):
    assert_offsets_tile(encode_bpe(dnabert2, seq)["offset_mapping"], len(seq))


def test_load_dnabert2_tokenizer_names_missing_path(tmp_path):
    with pytest.raises(ValueError, match="no tokenizer.json"):
        load_dnabert2_tokenizer(tmp_path)


# --- training a BPE vocabulary ---------------------------------------------------------------------------


def test_train_dna_bpe_gives_a_dnabert2_shaped_tokenizer(tmp_path, ecoli):
    sequences = [ecoli[:200_000], ecoli[200_000:300_000].lower() + "NNNNRY" + ecoli[300_000:350_000]]
    tokenizer = train_dna_bpe(sequences, tmp_path, vocab_size=512)
    assert {p.name for p in tmp_path.iterdir()} == {"tokenizer.json", "special_tokens_map.json",
                                                    "tokenizer_config.json"}
    assert len(tokenizer) == 512
    vocab = tokenizer.get_vocab()
    assert [vocab[t] for t in ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "A", "C", "G", "T"]] == list(range(9))
    assert set("".join(t for t in vocab if not t.startswith("["))) == set("ACGT")

    seq = mixed_slice(ecoli, 4_000_000, 5_000)
    encoding = encode_bpe(tokenizer, seq)
    assert_offsets_tile(encoding["offset_mapping"], len(seq))
    assert len(encoding["input_ids"]) < len(seq) / 3  # it learned merges that compress
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(seq[:200].upper())["input_ids"] == tokenizer(seq[:200].upper())["input_ids"]
    assert reloaded(seq[:200].upper())["input_ids"][0] == 1


def test_train_dna_bpe_rejects_a_vocabulary_smaller_than_its_alphabet(tmp_path):
    with pytest.raises(ValueError, match="`vocab_size` must be at least 9"):
        train_dna_bpe(["ACGT"], tmp_path, vocab_size=8)


def test_train_bpe_command(tmp_path, monkeypatch, ecoli):
    monkeypatch.setenv("GENEFINDER_CACHE", str(tmp_path / "cache"))
    fasta = tmp_path / "two.fa"
    fasta.write_text(f">one\n{ecoli[:30_000]}\n>two\n{ecoli[30_000:60_000].lower()}\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--fasta", str(fasta), "--vocab-size", "128", "--out", str(tmp_path / "bpe")])
    run(args)
    tokenizer = load_dnabert2_tokenizer(tmp_path / "bpe")
    assert len(tokenizer) == 128
    assert_offsets_tile(encode_bpe(tokenizer, ecoli[:1_000])["offset_mapping"], 1_000)


def test_codon_tokenizer_ids_remainder_and_round_trip(tmp_path):
    from genefinder.decoding.genetic_code import CODONS
    from genefinder.tokenization.tokenization_dna import DNAKmerTokenizer

    tok = DNAKmerTokenizer()
    assert len(tok) == 69 and tok.convert_ids_to_tokens([5, 68]) == ["TTT", "GGG"]
    # N inside a codon -> [UNK]; u = T; a 2-nt tail -> one [UNK]; the slow path agrees with encode_dna
    seq = "ATGaauNCCGGGta"
    ids = tok.encode_dna(seq).tolist()
    assert ids == [5 + CODONS.index("ATG"), 5 + CODONS.index("AAT"), 4, 5 + CODONS.index("GGG"), 4]
    assert tok(seq)["input_ids"] == ids
    tok.save_pretrained(tmp_path)
    back = DNAKmerTokenizer.from_pretrained(tmp_path)
    assert back.k == 3 and not back.add_cls_sep and back.encode_dna(seq).tolist() == ids
    with pytest.raises(ValueError, match="invalid character '-'"):
        tok.encode_dna("ATG-")
