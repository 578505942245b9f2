import subprocess
import sys
import textwrap

import pytest
import torch
from real_data import write_slice

from genefinder.configuration_genefinder import GeneFinderConfig
from genefinder.decoding.genetic_code import GeneticCode
from genefinder.decoding.strands import record_strands
from genefinder.formats.fasta import FastaFile
from genefinder.formats.gff3 import read_gff3
from genefinder.modeling_genefinder import GeneFinderForConditionalGeneration
from genefinder.prokaryotes.coding_library import CodingLibrary
from genefinder.tokenization_gff import GFFTokenizer


@pytest.mark.slow
def test_gene_finding_pipeline_from_a_saved_folder_in_a_fresh_process(tmp_path):
    torch.manual_seed(0)
    cfg = GeneFinderConfig(encoder_config={"encoder_type": "aido", "hidden_size": 32, "num_hidden_layers": 1,
                                           "num_attention_heads": 2, "intermediate_size": 64},
                           d_model=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64,
                           coding_frame_loss_coef=1.0, start_site_context=[6, 3])  # both decoders can run
    folder = tmp_path / "model"
    GeneFinderForConditionalGeneration(cfg).save_pretrained(folder)
    GFFTokenizer().save_pretrained(folder)
    remote_code = {"pipeline_genefinder.py", "annotation.py", "orf_decoding.py", "start_sites.py", "orfs.py",
                   "self_training.py", "strands.py", "coding_library.py", "genetic_code_choice.py"}
    assert remote_code <= {p.name for p in folder.iterdir()}
    fa, gff = write_slice(tmp_path, "ecoli_k12_mg1655", "NC_000913.3", 3000)
    strands = record_strands(FastaFile(str(fa)).fetch("NC_000913.3", 0, 3000), GeneticCode(11), 60)
    CodingLibrary.count([("slice", [(strands, read_gff3(str(gff))[0])])], 11).save(str(folder))
    code = textwrap.dedent(f"""
        import sys
        sys.modules["genefinder"] = None  # the installed package must not be what loads
        from transformers import pipeline
        finder = pipeline("gene-finding", model={str(folder)!r}, trust_remote_code=True)
        for item, decoding in (({str(fa)!r}, "orf"), ({str(fa)!r}, "generate"), ("ACGTTGCA" * 100, "auto")):
            out = finder(item, window=1024, overlap=256, max_new_tokens=16, constrained=False, decoding=decoding)
            print(type(finder).__name__, out["gff3"].splitlines()[1], type(out["genes"]).__name__)
        print(finder.model.coding_library.names)  # read from the folder by the remote code, for short inputs
        auto = finder({str(fa)!r}, genetic_code="auto", decoding="orf")  # table 11 or 4, chosen from the input
        print(auto["gff3"].splitlines()[1])
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()[-5:]
    assert lines == ["GeneFindingPipeline ##sequence-region NC_000913.3 1 3000 list"] * 2 + [
        "GeneFindingPipeline ##sequence-region sequence 1 800 list", "('slice',)",
        "##sequence-region NC_000913.3 1 3000"]
