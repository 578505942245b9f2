import torch

from genefinder.processing_genefinder import GeneFinderInputs
from genefinder.tokenization.tokenization_dna import load_dnabert2_tokenizer
from real_data import reference


def test_char_windows_pad_and_mask():
    batch = GeneFinderInputs("aido")(["ACGTN", "acg"], target_ids=[[5, 6, 2], [2]])
    assert batch["input_ids"].tolist() == [[5, 7, 6, 8, 10], [5, 7, 6, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[5, 6, 2], [2, -100, -100]]


def test_bpe_windows_map_every_nucleotide_to_its_token():
    tok = load_dnabert2_tokenizer(reference("dnabert2", "tokenizer.json"))
    dna = ["ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC", "GGATCCNNACGT"]
    batch = GeneFinderInputs("dnabert2", tok)(dna)
    for row, seq in enumerate(dna):
        ids = batch["input_ids"][row]
        assert ids[0] == tok.cls_token_id
        for i, base in enumerate(seq):
            t = batch["nucleotide_to_token"][row, i].item()
            piece = tok.convert_ids_to_tokens(ids[t].item())
            if piece != "[UNK]":
                assert piece[batch["nucleotide_offset"][row, i].item()] == base
        assert (batch["nucleotide_ids"][row, :len(seq)] != 0).all()


def test_model_accepts_bpe_batches():
    from genefinder.configuration_genefinder import GeneFinderConfig
    from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration

    tok = load_dnabert2_tokenizer(reference("dnabert2", "tokenizer.json"))
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "dnabert2", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64)
    model = GeneFinderForConditionalGeneration(cfg).eval()
    batch = GeneFinderInputs("dnabert2", tok)(["ACGTAGCATCGGATCTATCTATCG", "GGATCCAT"], target_ids=[[9, 2], [2]])
    out = model(**batch)
    assert out.logits.shape == (2, 2, cfg.gff_vocab_size + 24) and torch.isfinite(out.loss)
