"""Masked-LM loss and accuracy of one encoder on held-out DNA, at several context lengths, on the same targets.

Design: R regions of the longest length (16L) are drawn from a genome the model never saw, and one fixed set of
masked positions is drawn per region. At length l each region is cut into 16L/l consecutive chunks and every
chunk is scored alone, so every length predicts exactly the same nucleotides from the same masked input; only
the context the model may look at changes. Masked positions become [MASK] (no 80/10/10 replacement) and the
loss is the mean negative log-likelihood (nats) of the true base at those positions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genefinder.formats.fasta import FastaFile


@dataclass
class HeldoutSet:
    regions: list[str]  # R sequences of the longest length, A/C/G/T only
    masks: list[torch.Tensor]  # (longest,) bool per region: the positions to predict


def draw_heldout_set(fasta: str, n_regions: int, length: int, mask_probability: float, seed: int) -> HeldoutSet:
    """`n_regions` ACGT-only regions of `length` nt at seeded random positions of the FASTA's records."""
    genome = FastaFile(fasta)
    rng = random.Random(seed)
    records = [name for name in genome.names if genome.length(name) >= length]
    if not records:
        raise ValueError(f"{fasta}: no record of at least {length:,} nt")
    regions: list[str] = []
    while len(regions) < n_regions:
        name = rng.choice(records)
        start = rng.randrange(genome.length(name) - length + 1)
        seq = genome.fetch(name, start, start + length).upper()
        if set(seq) <= set("ACGT"):
            regions.append(seq)
    return masked(regions, mask_probability, seed)


def masked(regions: list[str], mask_probability: float, seed: int) -> HeldoutSet:
    """The regions with a seeded set of positions to predict in each."""
    gen = torch.Generator().manual_seed(seed)
    return HeldoutSet(regions, [torch.rand(len(r), generator=gen) < mask_probability for r in regions])


@torch.no_grad()
def score(model, processor, heldout: HeldoutSet, chunk_length: int, batch_size: int = 1) -> dict:
    """{loss, accuracy, targets} of `model` (a GeneFinderForMaskedLM, kmer=1 encoder) at context `chunk_length`."""
    model.eval()
    device = next(model.parameters()).device
    chunks, masks = [], []
    for seq, mask in zip(heldout.regions, heldout.masks):
        for start in range(0, len(seq), chunk_length):
            chunks.append(seq[start:start + chunk_length])
            masks.append(mask[start:start + chunk_length])
    nll, right, n = 0.0, 0, 0
    for b in range(0, len(chunks), batch_size):
        batch = processor(chunks[b:b + batch_size])
        target = batch["input_ids"].clone()
        mask = torch.nn.utils.rnn.pad_sequence(masks[b:b + batch_size], batch_first=True)
        batch["input_ids"] = batch["input_ids"].masked_fill(mask, processor.mask_id)
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()  # (B, L, V)
        logp = F.log_softmax(logits[mask], dim=-1)  # (M, V)
        truth = target[mask]
        nll -= logp.gather(1, truth[:, None]).sum().item()
        right += int((logp.argmax(-1) == truth).sum())
        n += int(mask.sum())
    return {"loss": nll / n, "accuracy": right / n, "targets": n}
