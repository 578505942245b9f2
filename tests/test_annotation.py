import subprocess
import sys
from pathlib import Path

import pytest
import torch
from real_data import write_slice

import genefinder
from genefinder.annotation.annotation import WindowPrediction, decode_generated, stitch
from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.formats.features import CDSPart, Gene, Transcript
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.tokenization_gff import GFFTokenizer


def gene(strand, start, end, left=False, right=False):
    return Gene(strand, (Transcript("mRNA", cds=(CDSPart(start, end, 0),), partial_left=left, partial_right=right),))


def test_a_gene_seen_whole_twice_is_reported_once_from_the_more_central_window():
    # record of 300 nt, windows [0,200) and [100,300); a gene at genome 150..180 is whole in both
    w1 = WindowPrediction("chr", 0, 200, (gene("+", 150, 180),))
    w2 = WindowPrediction("chr", 100, 200, (gene("+", 50, 80),))
    genes = stitch([w1, w2], 300)
    assert len(genes) == 1 and genes[0].start == 150 and genes[0].seqid == "chr"


def test_cut_genes_come_from_the_window_that_saw_them_whole():
    w1 = WindowPrediction("chr", 0, 200, (gene("-", 170, 200, right=True),))  # cut by w1's right edge
    w2 = WindowPrediction("chr", 100, 200, (gene("-", 70, 150),))  # genome 170..250, whole
    assert [(g.start, g.end) for g in stitch([w1, w2], 300)] == [(170, 250)]


def test_genes_cut_by_the_record_end_stay_partial():
    w = WindowPrediction("chr", 100, 200, (gene("+", 150, 200, right=True), gene("+", 1, 40, left=True)))
    genes = stitch([w], 300)
    assert [(g.start, g.end) for g in genes] == [(250, 300)] and genes[0].transcripts[0].partial_right


def test_disagreeing_starts_keep_the_more_central_call():
    w1 = WindowPrediction("chr", 0, 200, (gene("+", 120, 195),))  # stop at 195, near w1's edge
    w2 = WindowPrediction("chr", 100, 200, (gene("+", 40, 95),))  # genome 140..195, central in w2
    assert [(g.start, g.end) for g in stitch([w1, w2], 300)] == [(140, 195)]


def test_unfinished_trailing_gene_is_dropped_and_scores_are_probabilities():
    tok = GFFTokenizer()
    ids = [tok.bos_token_id] + tok.encode_genes([gene("+", 10, 99)], add_eos=False)
    ids += [tok.word_to_id["GENE-"], tok.word_to_id["mRNA"], tok.word_to_id["CDS"], tok.position_id(120)]
    genes = decode_generated(tok, ids, 200, logprobs=[-0.1] * (len(ids) - 1))
    assert len(genes) == 1 and genes[0].start == 10 and abs(genes[0].score - 0.905) < 1e-3


def test_genes_the_coding_frame_head_does_not_read_in_frame_are_dropped(tmp_path):
    """With a coding-frame head, a generated gene stays only if the head reads most of its CDS in the gene's frame:
    a head that calls every nucleotide non-coding leaves nothing; min_frame_agreement 0 keeps what generate wrote."""
    from genefinder.annotation.annotation import AnnotationSettings, GeneFinderAnnotator
    from genefinder.processing_genefinder import GeneFinderInputs

    fa, _ = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 3000)
    dna = "".join(fa.read_text().split("\n")[1:])
    torch.manual_seed(0)
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
                           coding_frame_loss_coef=1.0)
    model = GeneFinderForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        model.coding_head.bias.copy_(torch.tensor([9.0, 0, 0, 0, 0, 0, 0]))  # "non-coding" everywhere
    tok, inputs = GFFTokenizer(), GeneFinderInputs("aido")
    kept = GeneFinderAnnotator(model, tok, inputs, AnnotationSettings(max_new_tokens=40)).predict([dna])
    every = GeneFinderAnnotator(model, tok, inputs, AnnotationSettings(max_new_tokens=40, min_frame_agreement=0)
                                ).predict([dna])
    assert kept == [[]] and len(every[0]) >= 1
    with pytest.raises(ValueError, match="min_frame_agreement"):
        AnnotationSettings(min_frame_agreement=2)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64)
    folder = tmp_path_factory.mktemp("model")
    GeneFinderForConditionalGeneration(cfg).save_pretrained(folder)
    GFFTokenizer().save_pretrained(folder)
    return folder


def annotate(args, cwd):
    return subprocess.run([sys.executable, "-m", "genefinder.cli", "annotate", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


COMMON = ["--set", "window=2048", "--set", "overlap=512", "--set", "max_new_tokens=24", "--batch-size", "2",
          "--set", "constrained=false", "--device", "cpu"]


@pytest.mark.slow
def test_annotate_writes_valid_gff3_and_resumes(tmp_path, tiny_model_dir):
    fa, _ = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 9000)
    out = tmp_path / "a.gff3"
    res = annotate([fa, "-o", out, "--model", tiny_model_dir, "--proteins", tmp_path / "a.faa", *COMMON], tmp_path)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert text.startswith("##gff-version 3\n##sequence-region NC_000913.3 1 9000\n")
    assert not list(tmp_path.glob("*.partial.*"))
    # an interrupted run: keep only the first batch's line, then --resume
    partial = tmp_path / "b.gff3.partial.0.jsonl"
    res = annotate([fa, "-o", tmp_path / "b.gff3", "--model", tiny_model_dir, *COMMON], tmp_path)
    assert res.returncode == 0
    first_run = (tmp_path / "b.gff3").read_text()
    (tmp_path / "b.gff3").unlink()
    partial.write_text("")
    res = annotate([fa, "-o", tmp_path / "b.gff3", "--model", tiny_model_dir, "--resume", *COMMON], tmp_path)
    assert res.returncode == 0 and (tmp_path / "b.gff3").read_text() == first_run


@pytest.mark.slow
def test_two_processes_give_byte_identical_output(tmp_path, tiny_model_dir):
    fa, _ = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 9000)
    one = annotate([fa, "-o", tmp_path / "one.gff3", "--model", tiny_model_dir, *COMMON], tmp_path)
    assert one.returncode == 0, one.stderr
    accelerate = Path(sys.executable).parent / "accelerate"
    two = subprocess.run([str(accelerate), "launch", "--num_processes", "2", "--cpu", "-m", "genefinder.cli",
                          "annotate", str(fa), "-o", str(tmp_path / "two.gff3"), "--model", str(tiny_model_dir),
                          *COMMON], capture_output=True, text=True, cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-2000:]
    assert (tmp_path / "two.gff3").read_bytes() == (tmp_path / "one.gff3").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("setup, words", [
    (lambda d: (d / "model.safetensors").unlink(), "model folder is missing model.safetensors"),
    (lambda d: (d / "config.json").write_text('{"model_type": "bert"}'), "'bert' model, not a genefinder model"),
    (lambda d: (d / "config.json").write_text('{\n"model_type": genefinder}'), "config.json:2: config.json is not JSON"),
])
def test_bad_model_folders_get_one_line_errors(tmp_path, tiny_model_dir, setup, words):
    import shutil

    bad = tmp_path / "bad_model"
    shutil.copytree(tiny_model_dir, bad)
    setup(bad)
    fa = tmp_path / "x.fa"
    fa.write_text(">x\nACGTACGT\n")
    res = annotate([fa, "-o", tmp_path / "x.gff3", "--model", bad, *COMMON], tmp_path)
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.gff3").exists()


@pytest.mark.slow
def test_the_bacterial_default_model_warns_before_eukaryotic_annotation(tmp_path):
    """--eukaryote with the bundled bacterial model named by --model runs, but says up front that it will find few
    genes; a bacterial run with the same model is not warned."""
    fa, _ = write_slice(tmp_path, "celegans_1pct", "I", 3_000)
    bacterial_model = Path(genefinder.__file__).resolve().parent / "default_model"
    eukaryote = annotate([fa, "-o", tmp_path / "e.gff3", "--eukaryote", "--model", bacterial_model, "--device", "cpu"],
                         tmp_path)
    assert eukaryote.returncode == 0, eukaryote.stderr
    assert "trained on bacteria only" in eukaryote.stderr and (tmp_path / "e.gff3").read_text().startswith("##gff")
    bacterial = annotate([fa, "-o", tmp_path / "b.gff3"], tmp_path)
    assert bacterial.returncode == 0 and "trained on bacteria only" not in bacterial.stderr, bacterial.stderr
