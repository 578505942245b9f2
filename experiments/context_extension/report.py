"""results.json of the context-extension study -> docs/results/context_extension.md (tables) and .png (loss vs length)."""

from __future__ import annotations

import datetime
import math
import os
import platform
from pathlib import Path

from methods import LABELS

from genefinder.evaluation.machine_info import cpu_model

HELDOUT_TEXT = {"test-split": "the test blocks of the training genomes (the last 10% of each, never trained on)",
                "bsubtilis_best7003": "B. subtilis BEST7003 (a genome never trained on)"}
TARGET = 0.05  # the study's criterion: at 16L, the best method within 5% of its own loss at L
UNIFORM = math.log(4)  # nats per nucleotide of a uniform guess


def _table(block: dict, lengths: list[str]) -> list[str]:
    head = ["method", *(f"{int(n):,} nt" for n in lengths), "16L / L", "within 5%"]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for method, by_len in block.items():
        ratio = by_len[lengths[-1]]["loss"] / by_len[lengths[0]]["loss"]
        cells = [f"{by_len[n]['loss']:.4f} ({by_len[n]['accuracy']:.3f})" for n in lengths]
        rows.append("| " + " | ".join([LABELS[method], *cells, f"{ratio:.3f}",
                                       "yes" if ratio <= 1 + TARGET else "no"]) + " |")
    return rows


def _best(block: dict, lengths: list[str]) -> tuple[str, float]:
    ratios = {m: v[lengths[-1]]["loss"] / v[lengths[0]]["loss"] for m, v in block.items()}
    best = min(ratios, key=ratios.get)
    return best, ratios[best]


def _plot(results: dict, lengths: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = [(k, t) for k, t in (("zero_shot", "no fine-tuning"), ("finetuned", "after the fine-tune at 16L"))
              if results.get(k)]
    fig, axes = plt.subplots(1, len(blocks), figsize=(6 * len(blocks), 4.2), sharey=True, squeeze=False)
    for ax, (key, title) in zip(axes[0], blocks):
        for method, by_len in results[key].items():
            ax.plot([int(n) for n in lengths], [by_len[n]["loss"] for n in lengths], marker="o", label=LABELS[method])
        _ticks(ax, lengths)
        ax.set_xlabel("context length (nt)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out masked-LM loss (nats)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _writeup(results: dict, lengths: list[str]) -> list[str]:
    """What wins and why, every number read from the results (zero-shot, the setting without a training budget)."""
    zero, first, last = results["zero_shot"], lengths[0], lengths[-1]
    at_long = {m: v[last]["loss"] for m, v in zero.items()}
    lowest = min(at_long, key=at_long.get)
    rise = {m: v[last]["loss"] - v[first]["loss"] for m, v in zero.items()}
    none_l = zero["none"][first]["loss"] if "none" in zero else None
    compress = [m for m in ("linear", "gene") if m in zero and none_l is not None]
    lines = ["", "## What wins and why", "",
             f"- Lowest held-out loss at 16L without fine-tuning: **{LABELS[lowest]}** ({at_long[lowest]:.4f} nats; "
             + ", ".join(f"{LABELS[m]} {at_long[m]:.4f}" for m in sorted(at_long, key=at_long.get)[1:4]) + ").",
             "- Loss change from L to 16L: " + ", ".join(f"{LABELS[m]} {rise[m]:+.4f}" for m in sorted(rise, key=rise.get))
             + ". YaRN and LongRoPE keep the high-frequency rotary dimensions (positions a few nt apart: codons, "
             "motifs) exactly as trained and interpolate only the low frequencies, so local attention is unchanged "
             "at every length. Unscaled RoPE lets long-range position pairs reach rotation angles never seen in "
             "training; NTK-aware scaling spreads its change over every frequency but the highest, so mid-range "
             "angles shift too; dynamic NTK and CLEX (which starts as NTK) rescale more the longer the input."]
    if compress:
        lines.append("- Compressing every frequency by 16 costs accuracy already at L: " + ", ".join(
            f"{LABELS[m]} {zero[m][first]['loss']:.4f}" for m in compress) + f" vs {none_l:.4f} unscaled; "
            "positions one nucleotide apart become 1/16 of a trained step apart.")
    if none_l is not None:
        lines.append(f"- Caveat: the encoder is weak. Its loss at L ({none_l:.4f}) is only "
                     f"{(1 - none_l / 1.3863) * 100:.1f}% below a uniform guess (ln 4 = 1.3863), so it uses little "
                     "context and every method, unscaled included, stays within the 5% target; the spread between "
                     f"methods at 16L is {max(at_long.values()) - min(at_long.values()):.4f} nats. Margins this small need "
                     "a well-trained encoder (a GPU run of the same command) before they mean much.")
    return lines


def _ticks(ax, windows: list[str]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks([int(n) for n in windows], [f"{int(n) // 1024}k" if int(n) >= 1024 else n for n in windows])


def _plot_downstream(down: dict, windows: list[str], path: Path,
                     panels: tuple = (("gene_f1", "gene F1 (start and stop exact)"), ("stop_f1", "stop F1")),
                     reference: dict | None = None) -> None:
    """One panel per (key, title), a line per method over the windows; `reference` (cells of a decoding that
    reads no encoder) as a dashed line where it has the key."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(12, 4.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        for method, by_window in down.items():
            ax.plot([int(n) for n in windows], [by_window[n][key] for n in windows], marker="o", label=LABELS[method])
        if reference is not None and reference.get(key) is not None:
            ax.axhline(reference[key], color="black", linestyle="--", label="no encoder (head weight 0)")
        _ticks(ax, windows)
        ax.set_xlabel("annotation window (nt)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _downstream_section(results: dict, docs: Path) -> list[str]:
    down, meta = results.get("downstream"), results.get("downstream_meta", {})
    if not down:
        return []
    windows = list(next(iter(down.values())))
    png = docs / "context_extension_downstream.png"
    _plot_downstream(down, windows, png)
    state = meta.get("state", {})
    genome, _, region = meta["region"].partition(":")
    first = next(iter(down.values()))[windows[0]]
    head = ["method", *(f"{int(n):,} nt" for n in windows), "F1 at 16W / W", "genes predicted (W .. 16W)"]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for method, by_window in down.items():
        at_w, at_16w = by_window[windows[0]]["gene_f1"], by_window[windows[-1]]["gene_f1"]
        ratio = f"{at_16w / at_w:.2f}" if at_w else "n/a"
        cells = [f"{by_window[n]['gene_f1']:.3f} ({by_window[n]['stop_f1']:.3f})" for n in windows]
        counts = " / ".join(str(by_window[n]["predicted"]) for n in windows)
        rows.append("| " + " | ".join([LABELS[method], *cells, ratio, counts]) + " |")
    best = max(down, key=lambda m: down[m][windows[-1]]["gene_f1"])
    if all(v[n]["gene_f1"] == 0 for v in down.values() for n in windows):
        most = max(v[n]["predicted"] for v in down.values() for n in windows)
        verdict = (f"No method finds a whole gene at any window: the gene finder writes at most {most} genes wholly "
                   f"inside the region against {first['reference']} in the reference, so this view cannot rank the "
                   f"methods yet. Its {int(windows[0]):,}-nt training windows rarely hold a whole bacterial gene "
                   "(about 1 kb on average); the view needs a gene finder that works at W first: longer windows (4-8 kb) "
                   "and far more training than this CPU run.")
    else:
        verdict = (f"Highest gene F1 at 16W: **{LABELS[best]}** ({down[best][windows[-1]]['gene_f1']:.3f}; at W it "
                   f"had {down[best][windows[0]]['gene_f1']:.3f}).")
    return [
        "", "## Downstream: gene finding at 2W..16W", "",
        f"- Gene finder: `{meta['config']}` ({meta['checkpoint']}: the study's encoder + a small decoder, trained "
        f"at window W = {int(windows[0]):,} nt with the default model's recipe: {state.get('step', '?')} steps, "
        f"{state.get('nucleotides_seen', 0) / 1e6:.1f} M nt, {state.get('train_seconds', 0) / 60:.1f} min on "
        f"{state.get('device', '?')}).",
        f"- Annotated: {genome} {region} (test block, never trained on; {first['reference']} reference genes "
        "wholly inside), `genefinder annotate`'s path (windows overlapping by a quarter, grammar-constrained, "
        "stitched; no coding-frame filter), each method only a `rope_parameters` in the loaded config, no "
        "fine-tuning. Cells: gene F1 "
        "(start and stop exact) and, in brackets, stop F1, by `evaluation.evaluate` on the region.",
        "", *rows, "", verdict, "", f"![gene F1 vs window]({png.name})",
    ]


def _reference_genes(down: dict, windows: list[str]) -> int:
    """Reference genes wholly inside the downstream region (the same in every cell)."""
    return next(iter(down.values()))[windows[0]]["reference"]


def _orf_section(results: dict, docs: Path) -> list[str]:
    down, ref = results.get("downstream_orf"), results.get("downstream_orf_reference")
    checkpoint = results.get("downstream_orf_meta", {}).get("checkpoint", "?")
    if not down:
        return []
    windows = list(next(iter(down.values())))
    png = docs / "context_extension_downstream_orf.png"
    _plot_downstream(down, windows, png, (("gene_f1", "gene F1, ORF decoding with the head"),
                                          ("frame_accuracy", "coding-frame head accuracy per nt")), ref)
    head = ["method", *(f"{int(n):,} nt" for n in windows), "head accuracy 16W / W"]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for method, by_window in down.items():
        ratio = by_window[windows[-1]]["frame_accuracy"] / by_window[windows[0]]["frame_accuracy"]
        cells = [f"{by_window[n]['gene_f1']:.3f} ({by_window[n]['stop_f1']:.3f}) [{by_window[n]['frame_accuracy']:.3f}]"
                 for n in windows]
        rows.append("| " + " | ".join([LABELS[method], *cells, f"{ratio:.3f}"]) + " |")
    rows.append("| no encoder (head weight 0) | " + " | ".join(
        [f"{ref['gene_f1']:.3f} ({ref['stop_f1']:.3f})"] * len(windows) + ["n/a"]) + " |")
    best = max(down, key=lambda m: down[m][windows[-1]]["frame_accuracy"])
    gain = {m: down[m][windows[0]]["gene_f1"] - ref["gene_f1"] for m in down}
    if max(gain.values()) <= 0:
        use = (f"At W the head adds nothing to gene F1 over no encoder ({min(gain.values()):+.3f} to "
               f"{max(gain.values()):+.3f}): this small CPU model's head is too weak for gene F1 to rank the methods, "
               "and its accuracy per nucleotide is the measure that can.")
    else:
        use = (f"At W the head adds {min(gain.values()):+.3f} to {max(gain.values()):+.3f} gene F1 over no encoder "
               f"({_reference_genes(down, windows)} reference genes: one gene moves F1 by about "
               f"{1 / _reference_genes(down, windows):.3f}).")
    return [
        "", "### The same gene finder by ORF decoding", "",
        "Generation needs whole genes in a window; ORF decoding (`--decoding orf`) needs only the coding-frame "
        "head's per-nucleotide reading, which the scaled encoder produces at any window. Same checkpoint, its "
        "start scorer fitted by `genefinder fit-starts` on the training genomes' train blocks "
        f"({checkpoint}), the head the only "
        "learned coding evidence (no self-training), weights from the default model's best head-only validation "
        "row (downstream.ORF_SETTINGS). Cells: gene F1 (stop F1) [the head's accuracy per nucleotide over the "
        "region, 7 classes]. The last row decodes without the encoder: the ORFs and the start scorer alone.",
        "", *rows, "",
        f"Highest head accuracy at 16W: **{LABELS[best]}** ({down[best][windows[-1]]['frame_accuracy']:.3f}; "
        f"{down[best][windows[0]]['frame_accuracy']:.3f} at W). {use}",
        "", f"![ORF decoding vs window]({png.name})",
    ]


def write_report(results: dict, docs: Path, command: str) -> None:
    meta = results["meta"]
    lengths = list(results["zero_shot"][next(iter(results["zero_shot"]))])
    docs.mkdir(parents=True, exist_ok=True)
    png = docs / "context_extension.png"
    _plot(results, lengths, png)
    state = meta.get("base_state", {})
    lines = [
        "# Context extension: RoPE scaling methods at 16x the trained length",
        "",
        f"Written by `{command}` (experiments/context_extension/); do not edit by hand.",
        "",
        f"- Encoder: `{meta['config']}` (aido-style, single-nucleotide tokens, RoPE), masked-LM pre-training at "
        f"L = {meta['trained_length']:,} nt: {state.get('step', '?')} steps, "
        f"{state.get('nucleotides_seen', 0) / 1e6:.1f} M nt, {state.get('train_seconds', 0) / 60:.1f} min on "
        f"{state.get('device', '?')}; training genomes E. coli, C. crescentus, S. aureus.",
        f"- Evaluation: {HELDOUT_TEXT.get(meta['heldout'], meta['heldout'])}, {meta['regions']} regions of "
        f"{int(lengths[-1]):,} nt, 15% of positions masked once; every length predicts the same targets from the "
        "same masked input, cut into chunks of that length (heldout_mlm.py). Cells: loss in nats (accuracy); "
        "ln 4 = 1.386 is the loss of a uniform guess.",
        f"- Every method is configured for the target factor {meta['factor']} (`rope_parameters`, methods.py) and "
        "evaluated at every length. LongRoPE's long factors come from a grid search on held-in validation "
        f"windows: {results.get('longrope_search', {})}.",
        (f"- Fine-tune: {meta['finetune_steps']} steps x {meta['finetune_batch']} windows of {int(lengths[-1]):,} nt "
         f"at lr {meta.get('finetune_lr')}, the same for every method (`train.py --stage mlm --init_from ...`)."
         if results.get("finetuned") else "- Fine-tune: not run yet."),
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}; torch threads {meta['threads']}; "
        f"{datetime.date.today().isoformat()}.",
        "",
        "## Without fine-tuning",
        "",
        *_table(results["zero_shot"], lengths),
    ]
    best, ratio = _best(results["zero_shot"], lengths)
    lines += ["", f"Best at 16L relative to its own loss at L: **{LABELS[best]}**, ratio {ratio:.3f} "
              f"(target <= {1 + TARGET:.2f}: {'met' if ratio <= 1 + TARGET else 'not met'})."]
    if results.get("finetuned"):
        lines += ["", "## After the same short fine-tune at 16L", ""]
        if len(results["finetuned"]) < len(results["zero_shot"]):
            lines += [f"{len(results['finetuned'])} of {len(results['zero_shot'])} methods fine-tuned so far; "
                      "re-running the study command resumes the others.", ""]
        lines += _table(results["finetuned"], lengths)
        best, ratio = _best(results["finetuned"], lengths)
        lines += ["", f"Best at 16L relative to its own loss at L: **{LABELS[best]}**, ratio {ratio:.3f} "
                  f"(target <= {1 + TARGET:.2f}: {'met' if ratio <= 1 + TARGET else 'not met'})."]
    lines += ["", f"![loss vs length]({png.name})"]
    if results.get("context_use"):
        lines += ["", "How much context the encoder reads at all (the base at contexts shorter than L, same targets): "
                  "[context_extension_context_use.md](context_extension_context_use.md)."]
        _write_context_use(results, lengths, docs, command)
    lines += _downstream_section(results, docs) + _orf_section(results, docs) + _writeup(results, lengths) + [""]
    (docs / "context_extension.md").write_text("\n".join(lines))


def _kept_gain_table(zero: dict, lengths: list[str], when: str = "zero-shot") -> list[str]:
    """Each method's gain over a uniform guess (ln 4 - loss) at L and at 16L, and the share of it kept: a measure
    that scales with what the encoder has to lose, where the loss ratio of the 5% target does not."""
    first, last = lengths[0], lengths[-1]
    gains = {m: (UNIFORM - by_len[first]["loss"], UNIFORM - by_len[last]["loss"]) for m, by_len in zero.items()}
    rows = ["", f"What each method keeps at {int(last):,} nt of the gain over a uniform guess it has at "
            f"{int(first):,} (ln 4 - loss; {when}, the main table's numbers):", "",
            f"| method | gain at {int(first):,} nt | gain at {int(last):,} nt | kept |", "|---|---:|---:|---:|"]
    kept = {m: g[1] / g[0] for m, g in gains.items() if g[0] > 0}
    for m in sorted(gains, key=lambda m: -kept.get(m, 0.0)):
        at_l, at_long = gains[m]
        rows.append(f"| {LABELS[m]} | {at_l:.4f} | {at_long:.4f} | {f'{kept[m]:.0%}' if m in kept else 'n/a'} |")
    if len(kept) > 1:
        best, worst = max(kept, key=kept.get), min(kept, key=kept.get)
        within = sum(zero[m][last]["loss"] <= (1 + TARGET) * zero[m][first]["loss"] for m in zero)
        rows += ["", f"Measured this way the methods separate, from {LABELS[best]} ({kept[best]:.0%}) to "
                 f"{LABELS[worst]} ({kept[worst]:.0%}); by the loss ratio at 16L, {within} of {len(zero)} are within "
                 "the 5% target."]
    return rows


def _write_context_use(results: dict, lengths: list[str], docs: Path, command: str) -> None:
    """docs/results/context_extension_context_use.md: the base encoder's loss at contexts L/64 .. L beside the spread of
    the methods at 16L. A method can only lose, beyond L, what the encoder gains from context within it: when
    a 16-nt context is nearly as good as L, every method passes a 5% target whatever it does to far positions."""
    use, meta = results["context_use"], results["meta"]
    contexts = sorted(use, key=int)
    at_l = use[str(meta["trained_length"])]["loss"]
    shortest = use[contexts[0]]["loss"]
    gain_share = (shortest - at_l) / at_l  # what context within L is worth, relative to the loss at L
    lines = ["# Context extension: how much context the encoder reads", "",
             f"Written by `{command}` (experiments/context_extension/, stage 4); do not edit by hand.", "",
             f"The study's base encoder (`{meta['config']}`, trained at L = {meta['trained_length']:,} nt), without "
             "scaling, predicting the same masked targets as the main tables from chunks shorter than L "
             "(heldout_mlm.py; ln 4 = 1.386 nats is a uniform guess). The loss it gains from context within L is the "
             "most any method can lose by misreading positions beyond L. Chunks of a few dozen nt are also inputs "
             "far shorter than any the encoder trained on, so the first rows overstate what context alone is worth.",
             "",
             "| context (nt) | loss | accuracy | loss - loss at L | (loss - loss at L) / loss at L |",
             "|---:|---:|---:|---:|---:|"]
    for n in contexts:
        r = use[n]
        lines.append(f"| {int(n):,} | {r['loss']:.4f} | {r['accuracy']:.3f} | {r['loss'] - at_l:+.4f} "
                     f"| {(r['loss'] - at_l) / at_l:+.1%} |")
    zero = results.get("zero_shot", {})
    spread = [by_len[lengths[-1]]["loss"] / by_len[lengths[0]]["loss"] - 1 for by_len in zero.values()]
    lines += ["", f"- From {int(contexts[0]):,} nt of context to L the loss falls by {shortest - at_l:.4f} nats "
              f"({gain_share:.1%} of the loss at L), against the study's 5% tolerance at 16L."]
    if spread:
        lines.append(f"- At 16L the methods' losses lie {min(spread):+.1%} to {max(spread):+.1%} from their own loss at L "
                     f"({len(spread)} method{'s' if len(spread) > 1 else ''} without fine-tuning).")
    verdict = ("so the 5% target cannot tell the methods apart with this encoder: one that read only "
               f"{int(contexts[0])} nt would meet it; a better-trained encoder (the GPU run of the same command) "
               "is what makes the comparison informative"
               if gain_share <= TARGET else
               "so the encoder does use context beyond a few codons, and a method that garbled far positions "
               "would show it")
    lines += [f"- The encoder's whole gain from context is {'within' if gain_share <= TARGET else 'beyond'}"
              f" 5%, {verdict}."]
    if zero:
        lines += _kept_gain_table(zero, lengths)
    if results.get("finetuned"):
        lines += _kept_gain_table(results["finetuned"], lengths, "after the same short fine-tune at 16L")
    lines.append("")
    (docs / "context_extension_context_use.md").write_text("\n".join(lines))
