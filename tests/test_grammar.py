"""Genetic codes and the grammar-constrained logits processor, on real genome windows.

The processor is driven by random scores (a fake model) and every output is checked by `check_genes`, an
independent re-statement of the rules that reads only the decoded genes and the DNA.
"""

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from real_data import genome

from genefinder.annotation.annotation import decode_generated
from genefinder.datasets_scripts.build_dataset import GenomeSource, load_genome
from genefinder.decoding.genetic_code import TABLES, GeneticCode, codon_index
from genefinder.decoding.grammar import GFFGrammarLogitsProcessor
from genefinder.formats.fasta import FastaFile
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.formats.windows import GeneIndex, genes_in_window, reverse_complement
from genefinder.tokenization_gff import GFFTokenizer

tok = GFFTokenizer()
W = tok.word_to_id
N = tok.n_words
SPLICE = (("GT", "AG"), ("GC", "AG"), ("AT", "AC"))


@pytest.fixture(scope="module")
def ecoli():
    return FastaFile(genome("ecoli_k12_mg1655")[0])


@pytest.fixture(scope="module")
def celegans():
    return FastaFile(genome("celegans_1pct")[0])


# -- genetic codes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table, starts, stops", [
    (1, {"TTG", "CTG", "ATG"}, {"TAA", "TAG", "TGA"}),
    (3, {"ATA", "ATG", "GTG"}, {"TAA", "TAG"}),
    (4, {"TTA", "TTG", "CTG", "ATT", "ATC", "ATA", "ATG", "GTG"}, {"TAA", "TAG"}),
    (11, {"ATG", "GTG", "TTG", "CTG", "ATT", "ATC", "ATA"}, {"TAA", "TAG", "TGA"}),
    (2, {"ATT", "ATC", "ATA", "ATG", "GTG"}, {"TAA", "TAG", "AGA", "AGG"}),
])
def test_start_and_stop_codons(table, starts, stops):
    code = GeneticCode(table)
    assert code.starts == starts and code.stops == stops and not code.ambiguous_stops


def test_every_table_is_well_formed():
    assert set(TABLES) >= {1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                           31, 33}
    for t in TABLES:
        code = GeneticCode(t)
        assert len(code.amino_acids) == 64 and code.starts and code.stops and not code.starts & code.stops
        assert {"TAA", "TAG", "TGA"} & code.stops  # every table stops at one of the usual three
        assert code.translate("ATG") == "M"


def test_context_dependent_stops():
    assert GeneticCode(27).stops == {"TGA"} == GeneticCode(27).ambiguous_stops
    assert GeneticCode(28).ambiguous_stops == {"TAA", "TAG", "TGA"}
    assert GeneticCode(31).stops == {"TAA", "TAG"} and GeneticCode(31).translate("TAATGA") == "EW"
    assert GeneticCode(6).translate("TAATAGTGA") == "QQ*"


def test_translate_handles_case_rna_and_ambiguity():
    code = GeneticCode(1)
    assert code.translate("atgNNNtgAccUTAGx") == "MX*P*" and code.translate("ATGRAT") == "MX"
    assert codon_index("ACn") == 64
    assert GeneticCode(4).translate("TGA") == "W" and GeneticCode(11).translate("TGA") == "*"


def test_unknown_table_is_a_clear_error():
    for bad in (7, 0, 99, "11", True):
        with pytest.raises(ValueError, match="genetic code table"):
            GeneticCode(bad)


def test_thrL_translates_from_the_genome(ecoli):
    cds = ecoli.fetch("NC_000913.3", 189, 255)  # thrL, NC_000913.3:190-255 '+'
    assert GeneticCode(11).translate(cds) == "MKRISTTITTTITITTGNGAG*"


# -- an independent checker of generated genes ------------------------------------------------------------
def check_genes(genes, dna, code, min_cds=60, min_intron=20, introns=True, allow_exons=True):
    """Assert every rule the processor promises; return the number of CDS complete at both ends."""
    dna, L, complete, last = dna.upper(), len(dna), 0, 0
    for g in genes:
        assert g.start >= last, "genes out of canonical order"
        last, t_last = g.start, 0
        for t in g.transcripts:
            assert t.start >= t_last, "transcripts out of order"
            t_last = t.start
            assert allow_exons or (not t.exons and t.cds)
            for s, e in list(t.exons) + [(c.start, c.end) for c in t.cds]:
                assert 1 <= s <= e <= L, "coordinate outside the window"
            assert all(b[0] > a[1] for a, b in zip(t.exons, t.exons[1:])), "exons overlap"
            lefts = {acc if g.strand == "+" else reverse_complement(don) for don, acc in SPLICE}
            rights = {don if g.strand == "+" else reverse_complement(acc) for don, acc in SPLICE}
            if t.partial_left:
                assert t.start == 1 or (introns and dna[t.start - 3:t.start - 1] in lefts), "PARTIAL_LEFT off the edge"
            if t.partial_right:
                assert t.end == L or (introns and dna[t.end:t.end + 2] in rights), "PARTIAL_RIGHT off the edge"
            if not t.cds:
                continue
            if t.exons:
                assert t.exons[0][0] <= t.cds[0].start and t.cds[-1].end <= t.exons[-1][1]
            assert introns or len(t.cds) == 1
            for a, b in zip(t.cds, t.cds[1:]):
                intron = dna[a.end:b.start - 1]
                assert len(intron) >= min_intron, "intron too short"
                pair = (intron[:2], intron[-2:]) if g.strand == "+" else (
                    reverse_complement(intron[-2:]), reverse_complement(intron[:2]))
                assert pair in SPLICE, f"non-canonical intron {pair}"
            seq = "".join(dna[c.start - 1:c.end] for c in t.cds)
            pieces = list(t.cds)
            if g.strand == "-":
                seq, pieces = reverse_complement(seq), pieces[::-1]
            cut5 = t.partial_left if g.strand == "+" else t.partial_right
            cut3 = t.partial_right if g.strand == "+" else t.partial_left
            phase = run = pieces[0].phase
            for c in pieces:  # phases are the implied ones after the 5'-most piece: no frameshift
                assert c.phase == run, "phase is not the implied one"
                run = (3 - ((c.end - c.start + 1) - run) % 3) % 3
            starts = phase == 0 and seq[:3] in code.starts
            stops = (len(seq) - phase) % 3 == 0 and len(seq) - phase >= 3 and seq[-3:] in code.stops
            assert cut5 or starts, f"no start codon ({seq[:3]}, phase {phase})"
            assert cut3 or stops, f"no stop codon at the 3' end ({seq[-3:]})"
            protein = code.translate(seq[phase:])
            assert "*" not in (protein[:-1] if stops else protein), f"in-frame stop inside the CDS: {protein}"
            if not cut5 and not cut3:
                assert len(seq) % 3 == 0 and len(seq) >= min_cds, "complete CDS too short or not a multiple of 3"
                complete += 1
    return complete


@contextmanager
def one_thread():
    """Small tensors: torch's thread pool only adds stalls on a busy machine (seconds per test)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def generate(proc, dna, steps, seed, sample, expand=1, bias=None):
    """A fake model: random scores (biased toward genes), greedy or sampled, until every row has </s>."""
    with one_thread():
        return _generate(proc, dna, steps, seed, sample, expand, bias)


def _generate(proc, dna, steps, seed, sample, expand, bias):
    bias = bias or {W["GENE+"]: 5.0, W["GENE-"]: 5.0}
    g = torch.Generator().manual_seed(seed)
    rows = len(dna) * expand
    ids = torch.full((rows, 1), tok.bos_token_id)
    for _ in range(steps):
        scores = 2 * torch.randn(rows, N + max(map(len, dna)), generator=g)
        for t, b in bias.items():
            scores[:, t] += b
        scores = proc(ids, scores)
        assert torch.isfinite(scores).any(dim=1).all(), "a row has no allowed token"
        nxt = torch.multinomial(scores.softmax(-1), 1, generator=g)[:, 0] if sample else scores.argmax(-1)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if (ids == tok.eos_token_id).any(dim=1).all():
            break
    return ids


def windows(fa, seqid, starts, lengths):
    return [fa.fetch(seqid, s, s + n) for s, n in zip(starts, lengths)]


# -- random scores on real windows ------------------------------------------------------------------------
@pytest.mark.parametrize("table, sample", [(11, False), (11, True), (4, True)])
def test_random_scores_give_valid_bacterial_genes(ecoli, table, sample):
    dna = windows(ecoli, "NC_000913.3", [0, 190000, 1000000, 3000000], [8192, 4096, 6000, 8192])
    proc = GFFGrammarLogitsProcessor(tok, dna, table, max_introns=0, allow_exons=False, max_length=300)
    ids = generate(proc, dna, 299, seed=table + sample, sample=sample)
    complete = 0
    for r, d in enumerate(dna):
        row = ids[r].tolist()
        assert tok.eos_token_id in row  # max_length given: every row closed in time
        genes = tok.decode_genes(row, window_length=len(d))
        assert genes and all(t.kind == "mRNA" for g in genes for t in g.transcripts)
        complete += check_genes(genes, d, GeneticCode(table), introns=False, allow_exons=False)
    assert complete >= 3


def test_random_scores_give_valid_spliced_genes(celegans):
    dna = windows(celegans, "I", [4000, 60000, 100000], [8192, 6000, 4096])
    proc = GFFGrammarLogitsProcessor(tok, dna, 1, allow_exons=False, min_cds_length=150, max_length=300)
    bias = {W["GENE+"]: 5.0, W["GENE-"]: 5.0, W["CDS"]: 6.0}  # many CDS pieces: many introns
    for sample in (False, True):
        ids = generate(proc, dna, 299, seed=7, sample=sample, bias=bias)
        complete = spliced = 0
        for r, d in enumerate(dna):
            genes = tok.decode_genes(ids[r].tolist(), window_length=len(d))
            complete += check_genes(genes, d, GeneticCode(1), min_cds=150)
            spliced += sum(len(t.cds) > 1 and not t.partial_left and not t.partial_right
                           for g in genes for t in g.transcripts)
        assert complete >= 5 and spliced >= 3


def test_random_scores_with_exons_partials_and_limits(celegans):
    dna = windows(celegans, "II", [10000, 80000], [5000, 3000])
    proc = GFFGrammarLogitsProcessor(tok, dna, 1, max_introns=2, min_intron=40, min_cds_length=90)
    bias = {W["GENE+"]: 5.0, W["GENE-"]: 5.0, W["CDS"]: 4.0, W["mRNA"]: 4.0}
    ids = generate(proc, dna, 250, seed=3, sample=True, expand=2, bias=bias)  # 2 rows per window
    complete = spliced = with_exons = partial = 0
    for r in range(ids.shape[0]):
        genes = decode_generated(tok, ids[r].tolist(), len(dna[r // 2]))
        assert genes, f"row {r} decoded no gene"
        complete += check_genes(genes, dna[r // 2], GeneticCode(1), min_cds=90, min_intron=40)
        transcripts = [t for g in genes for t in g.transcripts]
        assert all(len(t.cds) <= 3 for t in transcripts)
        spliced += sum(len(t.cds) > 1 for t in transcripts)
        with_exons += sum(bool(t.exons) for t in transcripts)
        partial += sum(t.partial_left or t.partial_right for t in transcripts)
    # each thing the test names was produced, so the checks above read it: whole CDS, introns, exons, cut genes
    assert complete >= 3 and spliced >= 3 and with_exons >= 10 and partial >= 10


def test_synthetic_windows_with_odd_sequences_and_tables():
    rng = np.random.default_rng(0)
    for table in (1, 23, 27, 31):
        dna = ["".join(rng.choice(list("ACGT"), n)) for n in (0, 2, 40, 700, 2500)]
        dna[4] = dna[4][:1000] + "N" * 60 + dna[4][1060:].lower()
        proc = GFFGrammarLogitsProcessor(tok, dna, table, min_cds_length=30, min_intron=4)
        ids = generate(proc, dna, 120, seed=table, sample=True, bias={W["GENE+"]: 4.0, W["GENE-"]: 4.0, W["CDS"]: 4.0})
        for r, d in enumerate(dna):
            genes = decode_generated(tok, ids[r].tolist(), len(d))
            check_genes(genes, d, GeneticCode(table), 30, 4)
            # an empty window holds no gene; every other one, even of 2 nt, gets at least one under this bias
            assert (len(genes) > 0) == (len(d) > 0), (table, len(d), len(genes))


def test_transformers_generate_with_beams():
    from transformers import GPT2Config, GPT2LMHeadModel, LogitsProcessorList

    rng = np.random.default_rng(1)
    dna = ["".join(rng.choice(list("ACGT"), n)) for n in (900, 1200)]
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=N + 1200, n_embd=16, n_layer=1, n_head=2, n_positions=64)).eval()
    for kwargs in (dict(num_beams=3, num_return_sequences=2), dict(do_sample=True, num_return_sequences=3)):
        proc = GFFGrammarLogitsProcessor(tok, dna, 11, max_introns=0, min_cds_length=30, max_length=40)
        start = torch.full((2, 1), tok.bos_token_id)
        with one_thread():
            out = model.generate(start, attention_mask=torch.ones_like(start), max_length=40,
                                 logits_processor=LogitsProcessorList([proc]), pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id, **kwargs)
        expand = out.shape[0] // 2
        for r in range(out.shape[0]):
            d = dna[r // expand]
            check_genes(decode_generated(tok, out[r].tolist(), len(d)), d, GeneticCode(11), 30, introns=False)


# -- real annotations are expressible ------------------------------------------------------------------------
def _gold_rejections(name, table, seqid, starts, **kw):
    fasta, gff = genome(name)
    fa, genes = load_genome(GenomeSource(str(fasta), str(gff), name, table), coding_only=False)
    index, rejected = GeneIndex(genes[seqid]), []
    for s in starts:
        dna = fa.fetch(seqid, s, s + 8192)
        ids = tok.encode_genes(genes_in_window(index, s, len(dna)))
        proc = GFFGrammarLogitsProcessor(tok, [dna], table, **kw)
        bad = proc.first_forbidden(0, ids)
        if bad is not None:
            rejected.append((s, tok.convert_ids_to_tokens(ids[max(0, bad - 6):bad + 1])))
    return rejected


def test_reference_bacterial_genes_are_allowed():
    # 60 windows of E. coli: all accepted but one, hokC/mokC: two '-' genes sharing a stop codon (16751), the
    # price of "no gene twice" (two same-strand genes never share a first coordinate; 2 of 4,288 E. coli genes,
    # none in B. subtilis, C. crescentus, S. aureus, M. genitalium)
    rejected = _gold_rejections("ecoli_k12_mg1655", 11, "NC_000913.3", range(0, 60 * 8192, 8192),
                                max_introns=0, min_cds_length=0)
    assert [s for s, _ in rejected] == [16384]
    assert rejected[0][1][-5:] == ["@519", "GENE-", "mRNA", "CDS", "@367"]  # the second gene's first coordinate


def test_reference_spliced_genes_are_allowed():
    # C. elegans chromosome I and II slices: RNA genes, UTR exons, CDS over many introns, genes cut by edges
    rejected = _gold_rejections("celegans_1pct", 1, "I", range(0, 142000, 8192), min_cds_length=0)
    assert rejected == []


def test_no_gene_is_written_twice():
    """After a gene, the same gene (same strand, same first coordinate) is forbidden; a later start on the same
    strand stays allowed."""
    dna = "ATG" + "GCT" * 40 + "TAA" + "C" * 60 + "ATG" + "GCA" * 30 + "TGA" + "A" * 30
    proc = GFFGrammarLogitsProcessor(tok, [dna], 11, max_introns=0, min_cds_length=30)
    gene = tok.encode_genes([Gene("+", (Transcript("mRNA", cds=(CDSPart(1, 126),)),))])[:-1]  # without </s>
    plus = tok.convert_tokens_to_ids(["GENE+", "mRNA", "CDS"])
    words, pos = proc.allowed_next(0, gene + plus)
    assert 1 not in positions(pos) and 187 in positions(pos)
    assert proc.first_forbidden(0, gene + gene) is not None and proc.first_forbidden(0, gene + [tok.eos_token_id]) is None


def test_known_exceptions_are_rejected():
    # fdhF (selenoprotein: in-frame TGA) and prfB (programmed frameshift) cannot be written
    rejected = _gold_rejections("ecoli_k12_mg1655", 11, "NC_000913.3", [4294000, 3032000],
                                max_introns=0, min_cds_length=0)
    assert len(rejected) == 2


# -- hand-made prefixes ---------------------------------------------------------------------------------------
def positions(mask):
    return set((np.flatnonzero(mask) + 1).tolist()) if mask is not None else set()


def ids_of(*tokens):
    return tok.convert_tokens_to_ids(list(tokens))


def brute_plus_starts(dna, code, m):
    """1-based starts of complete single-piece '+' CDS: a start codon with an in-frame stop downstream."""
    out = set()
    for s in range(len(dna) - 2):
        if dna[s:s + 3] in code.starts:
            for y in range(s, len(dna) - 2, 3):
                if dna[y:y + 3] in code.stops:
                    if y + 3 - s >= m:
                        out.add(s + 1)
                    break
    return out


def brute_minus_firsts(dna, code, m):
    """1-based first coordinates (3' stop) of complete single-piece '-' CDS."""
    rc = reverse_complement(dna)
    L, out = len(dna), set()
    for y in range(len(rc) - 2):  # stop codon on the reverse strand at rc[y:y+3]; its start codon upstream
        if rc[y:y + 3] in code.stops:
            for x in range(y - 3, -1, -3):  # the farthest start before another stop
                if rc[x:x + 3] in code.stops:
                    break
                if rc[x:x + 3] in code.starts and y + 3 - x >= m:
                    out.add(L - (y + 2))
                    break
    return out


@pytest.mark.parametrize("table", [11, 4])
def test_cds_starts_and_ends_match_brute_force(ecoli, table):
    dna = ecoli.fetch("NC_000913.3", 1000000, 1003000)
    code = GeneticCode(table)
    proc = GFFGrammarLogitsProcessor(tok, [dna], table, max_introns=0, min_cds_length=90)
    words, pos = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS"))
    assert words == [] and positions(pos) == brute_plus_starts(dna, code, 90)  # no PHASE without PARTIAL_LEFT
    s = min(positions(pos))
    y = next(y for y in range(s - 1, len(dna), 3) if dna[y:y + 3] in code.stops)
    assert positions(proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", f"@{s}"))[1]) == {y + 3}
    words, pos = proc.allowed_next(0, ids_of("GENE-", "mRNA", "CDS"))
    assert positions(pos) == brute_minus_firsts(dna, code, 90)
    # after a finished gene: another gene, </s>, or another transcript of it; positions never go back
    words, _ = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", f"@{s}", f"@{y + 3}"))
    assert set(words) >= {W["GENE+"], W["GENE-"], W["mRNA"], tok.eos_token_id} and W["CDS"] not in words
    _, pos = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", f"@{s}", f"@{y + 3}", "GENE-", "mRNA", "CDS"))
    assert min(positions(pos)) >= s


def test_partial_flags_pin_coordinates_to_the_edges():
    dna = "CCCAAATAA" + "GGATGAAATAACC" + "ATG" + "GCC" * 15  # a stop in frame 0 and 2 of position 1; an open end
    L, code = len(dna), GeneticCode(11)
    proc = GFFGrammarLogitsProcessor(tok, [dna], 11, max_introns=0, min_cds_length=9)

    def allowed(*tokens):
        words, pos = proc.allowed_next(0, ids_of(*tokens))
        return set(tok.convert_ids_to_tokens(words)), positions(pos)

    assert allowed("GENE+", "mRNA", "CDS") == (set(), brute_plus_starts(dna, code, 9)) == (set(), {6, 12})
    # PARTIAL_LEFT: the CDS starts at 1, in a frame that meets a stop (frame 1 runs off the window: PHASE_1 no)
    assert allowed("GENE+", "mRNA", "PARTIAL_LEFT", "CDS") == ({"PHASE_2"}, {1})
    assert allowed("GENE+", "mRNA", "PARTIAL_LEFT", "CDS", "@1") == (set(), {9})
    assert allowed("GENE+", "mRNA", "PARTIAL_LEFT", "CDS", "PHASE_2", "@1") == (set(), {20})
    # PARTIAL_RIGHT without exons: the CDS runs stop-free to the window's end
    assert allowed("GENE+", "mRNA", "PARTIAL_RIGHT", "CDS") == (set(), {17, 23})
    assert allowed("GENE+", "mRNA", "PARTIAL_RIGHT", "CDS", "@23") == (set(), {L})
    # '-' cut on its 3' side by the left edge: starts at 1, ends on a start codon of a stop-free frame
    assert allowed("GENE-", "mRNA", "PARTIAL_LEFT", "CDS") == (set(), {1})
    assert allowed("GENE-", "mRNA", "PARTIAL_LEFT", "CDS", "@1") == (set(), {5, 7, 13, 18, 24})
    assert allowed("GENE-", "mRNA", "CDS") == ({"</s>"}, set())  # (an illegal prefix: closed at once)
    # '-' cut on its 5' side by the right edge: a stop (TGA) 6 nt from the end, then phase 0 at the edge
    proc = GFFGrammarLogitsProcessor(tok, ["CCATGAAATAA" + "CAT" * 30 + "GG"], 11, max_introns=0, min_cds_length=9)
    assert allowed("GENE-", "mRNA", "PARTIAL_RIGHT", "CDS") == (set(), {98})
    assert allowed("GENE-", "mRNA", "PARTIAL_RIGHT", "CDS", "@98") == (set(), {103})


def test_grammar_words_and_window_bounds():
    dna = ["CCATGAAATAACC", "ATGAAAGGGCCCTTTAAACCCGGGTAGCC" * 3]
    proc = GFFGrammarLogitsProcessor(tok, dna, 11, max_introns=0, min_cds_length=9, allow_exons=False)
    words, pos = proc.allowed_next(0, [])
    assert sorted(words) == sorted([tok.eos_token_id, W["GENE+"], W["GENE-"]]) and pos is None
    words, _ = proc.allowed_next(0, ids_of("GENE+"))
    assert words == [W["mRNA"]]  # coding-only: no RNA kinds without EXON
    words, _ = proc.allowed_next(0, ids_of("GENE+", "mRNA"))
    assert W["EXON"] not in words and W["CDS"] in words
    assert proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3", "@11", "</s>")) == ([tok.pad_token_id], None)
    # batch of two windows: positions past row 0's window are forbidden in its rows (2 rows per window)
    scores = torch.zeros(4, N + len(dna[1]))
    ids = torch.tensor([[tok.bos_token_id] + ids_of("GENE+", "mRNA", "CDS")] * 4)
    out = proc(ids, scores)
    assert torch.isinf(out[:2, N + len(dna[0]):]).all() and torch.isfinite(out[2:, N]).all()  # @1: ATG in window 1
    assert torch.isfinite(out[:2, N + 2]).all()  # @3: ATG in window 0
    with pytest.raises(ValueError, match="columns"):
        proc(ids, torch.zeros(4, N + 10))
    with pytest.raises(ValueError, match="rows"):
        proc(ids[:3], scores[:3])


def test_introns_need_splice_sites_and_room():
    exon1, intron, exon2 = "ATGAAACCC", "GTAAGT" + "C" * 30 + "TTTCAG", "GGGTTTTAA"
    dna = "CC" + exon1 + intron + exon2 + "CC"
    e1 = 2 + len(exon1)  # last base of the first piece (1-based)
    x2 = e1 + len(intron) + 1
    proc = GFFGrammarLogitsProcessor(tok, [dna], 1, min_cds_length=12, min_intron=20)
    _, pos = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3"))
    assert e1 in positions(pos)  # before GT...AG, with a stop in frame in the next piece
    words, _ = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3", f"@{e1}"))
    assert words == [W["CDS"]]  # no stop yet: the transcript may not end here
    _, pos = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3", f"@{e1}", "CDS"))
    assert positions(pos) == {x2}
    _, pos = proc.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3", f"@{e1}", "CDS", f"@{x2}"))
    assert positions(pos) == {len(dna) - 2}
    strict = GFFGrammarLogitsProcessor(tok, [dna], 1, min_cds_length=12, min_intron=60)
    assert e1 not in positions(strict.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3"))[1])
    none = GFFGrammarLogitsProcessor(tok, [dna], 1, min_cds_length=12, max_introns=0)
    assert e1 not in positions(none.allowed_next(0, ids_of("GENE+", "mRNA", "CDS", "@3"))[1])


def test_decode_generated_drops_a_cut_gene():
    done = [tok.bos_token_id] + ids_of("GENE+", "mRNA", "CDS", "@3", "@11")
    assert len(decode_generated(tok, done + [tok.eos_token_id] * 3, 20)) == 1  # beam search pads with </s>
    assert len(decode_generated(tok, done + [tok.eos_token_id, tok.pad_token_id], 20)) == 1
    assert decode_generated(tok, done, 20) == []  # cut: the model might have been adding a piece
    assert len(decode_generated(tok, done + ids_of("GENE-", "mRNA", "CDS", "@4"), 20)) == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_intron"):
        GFFGrammarLogitsProcessor(tok, ["ACGT"], min_intron=2)
    with pytest.raises(ValueError, match="splice site"):
        GFFGrammarLogitsProcessor(tok, ["ACGT"], splice_sites=(("GT", "A"),))
    with pytest.raises(ValueError, match="coding_kinds"):
        GFFGrammarLogitsProcessor(tok, ["ACGT"], coding_kinds=("protein",))
    with pytest.raises(ValueError, match="genetic code"):
        GFFGrammarLogitsProcessor(tok, ["ACGT"], genetic_code=7)


def test_a_prefix_outside_the_grammar_is_closed():
    proc = GFFGrammarLogitsProcessor(tok, ["CCATGAAATAACC"], 11, max_introns=0, min_cds_length=9)
    bad = ids_of("GENE+", "mRNA", "CDS", "@4")  # no start codon at 4
    assert proc.first_forbidden(0, bad) == 3
    assert proc.allowed_next(0, bad) == ([tok.eos_token_id], None)


@pytest.mark.slow
def test_untrained_genefinder_model_with_constraints_on_real_ecoli_windows(ecoli):
    """The project's own seq2seq model through `generate`: every output valid, every CDS obeys the codons."""
    from transformers import LogitsProcessor, LogitsProcessorList

    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
    from genefinder.processing_genefinder import GeneFinderInputs

    class PreferGenes(LogitsProcessor):  # steer the untrained model towards complete genes
        def __call__(self, input_ids, scores):
            scores[:, [W["GENE+"], W["GENE-"]]] += 5
            scores[:, [W["PARTIAL_LEFT"], W["PARTIAL_RIGHT"]]] -= 5
            return scores

    torch.manual_seed(0)
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64)
    model = GeneFinderForConditionalGeneration(cfg).eval()
    dna = windows(ecoli, "NC_000913.3", [0, 190000, 1000000], [4096, 3000, 4096])
    complete = 0
    for kwargs in ({"do_sample": False}, {"num_beams": 2}, {"do_sample": True, "top_k": 20}):
        proc = GFFGrammarLogitsProcessor(tok, dna, 11, max_introns=0, allow_exons=False, max_length=80)
        with one_thread():
            out = model.generate(**GeneFinderInputs("aido")(dna), max_length=80,
                                 logits_processor=LogitsProcessorList([PreferGenes(), proc]), **kwargs)
        for r, d in enumerate(dna):
            genes = decode_generated(tok, out[r].tolist(), len(d))
            complete += check_genes(genes, d, GeneticCode(11), introns=False)
    assert complete >= 3
