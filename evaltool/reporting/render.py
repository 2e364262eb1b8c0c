"""Writing a report: report.md, report.json, ssa.png and items.csv in one folder.

Files are written to a temporary folder first and moved into place, so a failed report never
leaves a half-written set behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from evaltool.catalog import BASELINES
from evaltool.errors import UserError

LABELS = {"sensibleness": "Sensibleness", "specificity": "Specificity", "ssa": "SSA"}
AGREEMENT_HELP = {
    "Raw agreement": "share of rater pairs that gave an item the same answer (1 = always)",
    "Krippendorff's alpha": "agreement beyond chance, allowing for missing labels: 1 perfect, "
    "0 chance level, below 0 systematic disagreement; about 0.67 or more is usually wanted",
    "Fleiss' kappa": "agreement beyond chance when every item has the same number of labels "
    "(same scale as alpha)",
    "Gwet's AC1": "agreement beyond chance with chance estimated so that it does not collapse "
    "when almost every label is the same answer (same scale; interval as Gwet gives it)",
}
VOTES = {
    "majority": "each response's label is the majority vote of its raters (a tie counts as "
    "no; not sensible means not specific).",
    "dawid-skene": "each response's label is what a Dawid-Skene rater model estimates from all "
    "raters' answers (each rater's confusion matrix learnt from the data); the majority vote "
    "is beside it.",
    "mace": "each response's label is what MACE estimates from all raters' answers (each "
    "rater's chance of answering at random learnt from the data); the majority vote is beside "
    "it.",
}
INTERVALS = {
    "score": "score intervals over contexts (Wilson's for rates; docs/protocol.md)",
    "bca": "BCa bootstrap intervals over contexts",
    "percentile": "percentile bootstrap intervals over contexts",
}


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def cell(m: dict[str, Any] | None) -> str:
    if m is None:
        return "n/a"
    if m["ci_low"] is None:
        return f"{m['estimate']:.3f}"
    return f"{m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _comparison_sentence(c: dict[str, Any], confidence: float, holm: bool) -> str:
    if c.get("ssa") is None:
        return f"- **{c['a']}** vs **{c['b']}**: {c['note']}."
    d = c["ssa"]
    head = (
        f"- **{c['a']} minus {c['b']}** on {c['shared_contexts']} shared contexts: "
        f"SSA {d['difference']:+.3f}"
    )
    if d["ci_low"] is None:
        return head + " (one shared context: no interval)."
    if d["ci_low"] > 0:
        verdict = f"{c['a']} is better; the {confidence:.0%} interval excludes zero"
    elif d["ci_high"] < 0:
        verdict = f"{c['b']} is better; the {confidence:.0%} interval excludes zero"
    else:
        verdict = "the interval includes zero: these labels cannot tell the two apart"
    parts = [
        f"{LABELS[m].lower()} {c[m]['difference']:+.3f} "
        f"[{c[m]['ci_low']:+.3f}, {c[m]['ci_high']:+.3f}]"
        for m in ("sensibleness", "specificity")
    ]
    p = f"p = {d['p_value']:.3g}" + (f", Holm {d['p_holm']:.3g}" if holm else "")
    share = d["share_at_or_below_zero"]
    resamples = "" if share is None else f"; {share:.1%} of resamples at or below zero"
    return (
        f"{head} ({confidence:.0%} CI {d['ci_low']:+.3f} to {d['ci_high']:+.3f}; "
        f"{'; '.join(parts)}; {p}{resamples}): {verdict}."
    )


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: table, comparisons, agreement, the side-by-side section,
    exclusions, settings (with ``pairs_only``: the side-by-side section alone)."""
    confidence = report["settings"]["confidence"]
    if report["settings"].get("pairs_only"):
        from evaltool.reporting import sidebyside

        out = [f"# Side-by-side report: {report['dataset']}", ""]
        out += _simulated(report) + sidebyside.markdown(report["pairwise"], confidence)
        out += ["", f"evaltool {report['evaltool_version']}, {report['generated_at']}."]
        return "\n".join(out) + "\n"
    out = [f"# SSA report: {report['dataset']}", ""]
    out += _simulated(report)
    out += _markdown_tables(report)
    out += ["", "## Comparisons", ""]
    holm = len(report["comparisons"]) > 1
    comps = [_comparison_sentence(c, confidence, holm) for c in report["comparisons"]]
    if holm:
        comps.insert(
            0,
            f"{len(comps)} pairs: p-values are the score test's, with Holm's adjustment for "
            "testing every pair; read the first pair on its own, the rest with Holm.",
        )
    out += comps or ["- Fewer than two systems."]
    out += _agreement_section(report["agreement"])
    if report.get("judged"):
        from evaltool.reporting import judged_text

        out += judged_text.markdown(report["judged"], confidence)
    if report.get("pairwise"):
        from evaltool.reporting import sidebyside

        out += ["", *sidebyside.markdown(report["pairwise"], confidence)]
    out += _exclusions(report)
    out += ["", f"evaltool {report['evaltool_version']}, {report['generated_at']}."]
    return "\n".join(out) + "\n"


def _simulated(report: dict[str, Any]) -> list[str]:
    if not report["simulated"]:
        return []
    return [
        "> **SIMULATED LABELS.** These labels come from simulated annotators "
        "(`evaltool demo --simulate-labels`), not people. The numbers show what the "
        "report looks like; they say nothing about the systems.",
        "",
    ]


def _markdown_tables(report: dict[str, Any]) -> list[str]:
    """The SSA table with intervals, then the label-level rates."""
    conf = report["settings"]
    out = [
        f"Item-level scores: {VOTES[conf['aggregate']]} Brackets: {conf['confidence']:.0%} "
        f"{INTERVALS[conf['method']]}. Items need at least {conf['min_labels']} labels.",
        "",
    ]
    model = conf["aggregate"] != "majority"
    extra = " SSA, majority vote |" if model else ""
    out += [
        "| system | kind | decoding | contexts | items | labels | sensibleness | specificity "
        f"| SSA |{extra}",
        "|---|---|---|---:|---:|---:|---|---|---|" + ("---|" if model else ""),
    ]
    for s in report["systems"]:
        beside = ""
        if model:
            mv = s.get("majority_vote")
            moved = " (order changed)" if s.get("order_changed") else ""
            beside = f" {cell(mv['ssa']) if mv else 'n/a'}{moved} |"
        out.append(
            f"| {s['name']} | {s['kind']} | {s.get('decoding') or '-'} | {s['contexts']} | "
            f"{s['items']} | {s['labels']} | {cell(s['sensibleness'])} | "
            f"{cell(s['specificity'])} | {cell(s['ssa'])} |{beside}"
        )
    out += [
        "",
        "Label-level rates (every label counted, no vote):",
        "",
        "| system | sensibleness | specificity | SSA |",
        "|---|---:|---:|---:|",
    ]
    for s in report["systems"]:
        ll = s["label_level"] or {}
        out.append(
            f"| {s['name']} | {_num(ll.get('sensibleness'))} | "
            f"{_num(ll.get('specificity'))} | {_num(ll.get('ssa'))} |"
        )
    out += _perplexity(report)
    notes = [f"- {s['name']}: {s['note']}" for s in report["systems"] if s.get("note")]
    return out + (["", *notes] if notes else [])


def _perplexity(report: dict[str, Any]) -> list[str]:
    """Perplexity on the reference replies beside SSA, where measured."""
    measured = [s for s in report["systems"] if s.get("perplexity") is not None]
    if not measured:
        return []
    out = ["", "Perplexity on the reference replies (`evaltool perplexity`; lower is better):", ""]
    out += [f"- {s['name']}: {s['perplexity']:.2f}" for s in measured]
    corr = report.get("perplexity_vs_ssa")
    if corr:
        out.append(
            f"- Spearman's rank correlation of perplexity with SSA over {corr['systems']} "
            f"systems: {corr['spearman']:+.2f} (Meena found lower perplexity with higher SSA); "
            f"{corr['note']}."
        )
    return out


def _agreement_section(agreement: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        "",
        "## Rater agreement",
        "",
        "| question | items | labels | raw agreement | Krippendorff's alpha | Fleiss' kappa "
        "| Gwet's AC1 |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for q, a in agreement.items():
        ac1 = a.get("gwet_ac1")
        out.append(
            f"| {q} | {a['items']} | {a['labels']} | {_num(a['raw_agreement'])} | "
            f"{_num(a['krippendorff_alpha'])} | {_num(a['fleiss_kappa'])} | {cell(ac1)} |"
        )
    out += ["", *(f"- *{k}*: {v}." for k, v in AGREEMENT_HELP.items())]
    out.append(
        "- n/a: undefined here (all labels alike, or items with different label counts "
        "for kappa). Specificity is counted as stored: no when not sensible."
    )
    return out


def _exclusions(report: dict[str, Any]) -> list[str]:
    ex, min_labels = report["exclusions"], report["settings"]["min_labels"]
    out = [
        "",
        "## Exclusions",
        "",
        f"- Annotators flagged by gold checks: {len(ex['flagged_annotators'])} "
        f"({', '.join(ex['flagged_annotators']) or 'none'}); their "
        f"{ex['labels_from_flagged']} labels were removed.",
        f"- Items with fewer than {min_labels} labels left out: "
        f"{ex['items_below_min_labels']} ({ex['labels_on_those_items']} labels).",
    ]
    skipped = report.get("skips") or {}
    if skipped.get("items"):
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(skipped["by_reason"].items()))
        out.append(
            f"- Items skipped by a rater as impossible to judge: {skipped['items']} ({reasons}); "
            "they went back to the pool for other raters."
        )
    adaptive = report.get("adaptive")
    if adaptive:
        out.append(
            f"- Adaptive overlap: {adaptive['items_decided_early']} items were decided before "
            f"k labels (no further label could change their majority), saving "
            f"{adaptive['labels_saved']} labels; agreement is computed on the items that got "
            "all k labels."
        )
    baselines = [s["name"] for s in report["systems"] if s["kind"] == "baseline"]
    if baselines:
        out += ["", "## Baselines", ""]
        out += [
            f"- {b}: {BASELINES[b].purpose if b in BASELINES else 'a fixed rule'}."
            for b in baselines
        ]
    return out + [f"- {n}" for n in report["notes"]]


def _reach(m: dict[str, Any], bound: str) -> float:
    """How far an error bar reaches from the estimate (0 when there is no bound; a bound of
    0.0 is a bound)."""
    value = m[bound]
    return 0.0 if value is None else abs(value - m["estimate"])


def plot(report: dict[str, Any], path: Path) -> None:
    """Bar chart of the three metrics per system with CI error bars."""
    title = f"SSA on {report['dataset']} ({report['settings']['confidence']:.0%} CI)"
    bars(report["systems"], title + (" — SIMULATED" if report["simulated"] else ""), path)


def bars(entries: list[dict[str, Any]], title: str, path: Path) -> None:
    """Bars of the three metrics per entry (a system or a bot) with their intervals; entries
    without an SSA are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [e for e in entries if e["ssa"] is not None]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(shown) + 2), 3.6))
    width = 0.26
    for i, metric in enumerate(LABELS):
        xs = [j + (i - 1) * width for j in range(len(shown))]
        est = [e[metric]["estimate"] for e in shown]
        err = [
            [_reach(e[metric], "ci_low") for e in shown],
            [_reach(e[metric], "ci_high") for e in shown],
        ]
        ax.bar(xs, est, width, yerr=err, capsize=3, label=LABELS[metric])
    ax.set_xticks(range(len(shown)), [e["name"] for e in shown], rotation=15, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of items")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(report: dict[str, Any], items: pd.DataFrame, out: Path) -> list[Path]:
    """report.md, report.json, ssa.png and items.csv (with pair answers, pairwise.png too;
    with ``pairs_only``, not the SSA files), written into ``out`` at once."""
    writers: dict[str, Callable[[Path], Any]] = {
        "report.md": lambda p: p.write_text(markdown(report), encoding="utf-8"),
        "report.json": lambda p: write_json(report, p),
    }
    if not report["settings"].get("pairs_only"):
        cols = ["context", "name", "labels", "n_sensible", "n_specific", "sensible", "specific"]
        frame = items[[*cols, "included"]].rename(
            columns={"context": "context_id", "name": "system"}
        )
        writers["ssa.png"] = lambda p: plot(report, p)
        writers["items.csv"] = lambda p: frame.sort_values(["system", "context_id"]).to_csv(
            p, index=False
        )
    if report.get("pairwise"):
        from evaltool.reporting import sidebyside

        writers["pairwise.png"] = lambda p: sidebyside.matrix_plot(report["pairwise"], p)
    return write_files(out, writers)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_files(out: Path, writers: dict[str, Callable[[Path], Any]]) -> list[Path]:
    """Each file made by its writer in a temp folder beside ``out``, then moved into ``out``
    together: a failed report leaves the last one whole."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder; choose another", field="out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        for name, write in writers.items():
            write(tmp / name)
        out.mkdir(exist_ok=True)
        written = []
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
            written.append(out / f.name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
