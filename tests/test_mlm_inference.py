import json

import pytest
import torch
from mlm_fixtures import tiny_mlm_folder, tiny_scorer
from vcf_fixtures import ecoli_slice

from genefinder.encoder_tools.mlm_inference import MaskedLMScorer
from genefinder.formats.errors import GeneFinderInputError
from genefinder.models.configuration_encoders import GeneFinderEncoderConfig
from genefinder.models.modeling_genefinder_encoder import GeneFinderEncoderModel


@pytest.mark.parametrize("encoder_type, kmer", [("aido", 1), ("aido", 3), ("dnabert2", 1)])
def test_spans_tile_a_real_window_and_name_each_token(tmp_path, encoder_type, kmer):
    _, genome = ecoli_slice(tmp_path)
    seq = genome[1000:1101]  # 101 nt: codons leave a 2-nt tail
    lm = tiny_scorer(tmp_path, encoder_type, kmer)
    ids, spans = lm.encode(seq)
    assert ids == lm.inputs.encode(seq).tolist()  # the ids training used
    real = [s for s in spans if s != (0, 0)]
    assert real[0][0] == 0 and real[-1][1] == len(seq) and all(a[1] == b[0] for a, b in zip(real, real[1:]))
    if encoder_type == "dnabert2":
        assert spans[0] == spans[-1] == (0, 0) and len(real) == len(ids) - 2  # [CLS] ... [SEP]
        assert all(lm.inputs.bpe.convert_ids_to_tokens(i) == seq[a:b].upper() for i, (a, b) in zip(ids[1:-1], real))
    elif kmer == 3:
        assert len(ids) == 34 and real[-1] == (99, 101)  # 33 codons and the tail, one [UNK]
    else:
        assert len(ids) == 101 and real[17] == (17, 18)


def test_padded_rows_give_the_log_probs_of_unpadded_ones(tmp_path):
    lm = tiny_scorer(tmp_path)
    short, long = (5, 6, 7, 8) * 3, (8, 7, 6, 5) * 6
    batch = lm.log_probs([short, long])
    assert batch.shape == (2, 24, 16)
    assert torch.allclose(batch[0, :12], lm.log_probs([short])[0], atol=1e-5)
    assert torch.allclose(batch.exp().sum(-1), torch.ones(2, 24), atol=1e-5)


def test_folders_that_are_not_masked_lms_are_refused_in_one_line(tmp_path):
    with pytest.raises(GeneFinderInputError, match="no config.json here"):
        MaskedLMScorer.from_folder(str(tmp_path), "cpu")
    seq2seq = tmp_path / "s2s"
    seq2seq.mkdir()
    (seq2seq / "config.json").write_text(json.dumps({"model_type": "genefinder"}))
    with pytest.raises(GeneFinderInputError, match="for a 'genefinder' model, not a masked LM"):
        MaskedLMScorer.from_folder(str(seq2seq), "cpu")
    bare = tmp_path / "bare"
    GeneFinderEncoderModel(GeneFinderEncoderConfig(encoder_type="aido", hidden_size=32, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=64)).save_pretrained(bare)
    with pytest.raises(GeneFinderInputError, match="lack .* tensors of a masked LM .*encoder without MLM head"):
        MaskedLMScorer.from_folder(str(bare), "cpu")
    bpe = tiny_mlm_folder(tmp_path / "bpe", "dnabert2")
    (bpe / "dna_tokenizer" / "tokenizer.json").unlink()
    with pytest.raises(GeneFinderInputError, match="cannot load the masked LM: `path`: no tokenizer.json"):
        MaskedLMScorer.from_folder(str(bpe), "cpu")
