import re
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from real_data import genome

from genefinder.datasets_scripts.build_dataset import GenomeSource
from genefinder.datasets_scripts.check_roundtrip import count_roundtrip
from genefinder.formats.features import TRANSCRIPT_KINDS, CDSPart, Gene, Transcript, canonical
from genefinder.formats.windows import normalise_transcript
from genefinder.hub.remote_code import write_remote_code
from genefinder.tokenization_gff import GFFTokenError, GFFTokenizer

tok = GFFTokenizer()


def test_bacterial_gene_is_five_tokens():
    g = Gene("+", (Transcript("mRNA", cds=(CDSPart(190, 255, 0),)),))
    ids = tok.encode_genes([g])
    assert tok.convert_ids_to_tokens(ids) == ["GENE+", "mRNA", "CDS", "@190", "@255", "</s>"]
    assert tok.decode_genes(ids) == [g]
    assert tok.decode_genes([tok.bos_token_id] + ids + [tok.pad_token_id] * 3) == [g]


def test_phase_token_only_where_needed():
    implied = Gene("-", (Transcript("mRNA", cds=(CDSPart(10, 20, 2), CDSPart(40, 61, 0))),))  # 22 nt, then phase 2
    assert "PHASE_2" not in tok.convert_ids_to_tokens(tok.encode_genes([implied]))
    cut = Gene("+", (Transcript("mRNA", cds=(CDSPart(1, 30, 2),), partial_left=True),))
    tokens = tok.convert_ids_to_tokens(tok.encode_genes([cut]))
    assert tokens == ["GENE+", "mRNA", "PARTIAL_LEFT", "CDS", "PHASE_2", "@1", "@30", "</s>"]
    assert tok.decode_genes(tok.encode_genes([cut, implied])) == canonical([cut, implied])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ecoli_k12_mg1655", "celegans_1pct", "mgenitalium_g37"])
def test_lossless_over_every_window_of_real_genomes(name):
    fasta, gff = genome(name)
    counts = count_roundtrip(GenomeSource(str(fasta), str(gff), name), window=8192, stride=4096)
    assert counts["windows"] > 100 and counts["genes"] > 500
    assert counts["mismatches"] == 0


@st.composite
def transcripts(draw, window: int):
    kind = draw(st.sampled_from(TRANSCRIPT_KINDS))
    cuts = sorted(draw(st.lists(st.integers(1, window), min_size=2, max_size=8, unique=True)))
    pieces = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    coding = draw(st.booleans())
    exons = tuple(pieces) if (draw(st.booleans()) or not coding) else ()
    cds = tuple(CDSPart(s, e, draw(st.integers(0, 2))) for s, e in pieces) if coding else ()
    return normalise_transcript(Transcript(kind, exons, cds, draw(st.booleans()), draw(st.booleans())))


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("+-"), st.lists(transcripts(window=5000), min_size=1, max_size=3)),
                max_size=12))
def test_random_gene_sets_round_trip(raw):
    genes = [Gene(strand, tuple(ts)) for strand, ts in raw]
    assert tok.decode_genes(tok.encode_genes(genes), window_length=5000) == canonical(genes)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, tok.n_words + 40), max_size=30))
def test_any_token_sequence_decodes_or_raises_a_grammar_error(ids):
    try:
        genes = tok.decode_genes(ids, window_length=40)
    except GFFTokenError as err:
        assert str(err).startswith("token ")
        return
    assert tok.decode_genes(tok.encode_genes(genes)) == genes


@pytest.mark.parametrize("tokens, words", [
    ("GENE+ CDS @1 @9", "a gene needs at least one transcript"),
    ("GENE+ mRNA </s>", "needs an EXON or CDS"),
    ("GENE+ mRNA CDS @9 @1", "end 1 is before start 9"),
    ("GENE+ mRNA CDS @5 @9 CDS @2 @3", "goes back before"),
    ("GENE+ mRNA CDS @5 @99", "beyond the window's 50 nt"),
    ("mRNA CDS @5 @9", "expected GENE+, GENE- or </s>"),
    ("</s> GENE+", "only padding may follow"),
])
def test_malformed_sequences_say_which_rule(tokens, words):
    with pytest.raises(GFFTokenError, match=re.escape(words)):
        tok.decode_genes(tok.convert_tokens_to_ids(tokens.split()), window_length=50)


def test_positions_are_unbounded():
    far = Gene("+", (Transcript("mRNA", cds=(CDSPart(1_000_000, 2_000_001, 0),)),))
    assert tok.decode_genes(tok.encode_genes([far])) == [far]


@pytest.mark.slow
def test_save_and_load_with_auto_tokenizer_in_a_fresh_process(tmp_path):
    folder = tmp_path / "tok"
    tok.save_pretrained(folder)  # tokenizer_config.json's auto_map names GFFTokenizer
    write_remote_code(folder, ("tokenization_gff.py", "formats/features.py"))
    assert (folder / "tokenization_gff.py").exists() and (folder / "features.py").exists()
    ids = tok.encode_genes([Gene("-", (Transcript("tRNA", exons=((3, 75),)),))])
    code = textwrap.dedent(f"""
        import sys
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import AutoTokenizer
        t = AutoTokenizer.from_pretrained({str(folder)!r}, trust_remote_code=True)
        print(type(t).__name__, t.decode_genes({ids})[0].transcripts[0].exons)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["GFFTokenizer", "((3,", "75),)"]
