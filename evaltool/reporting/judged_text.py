"""report.md's judge-assisted section (``reporting.judged`` computes it), saying which
estimator the share's design called for."""

from __future__ import annotations

from typing import Any

from evaltool.reporting.judged import METRICS


def markdown(section: dict[str, Any], confidence: float) -> list[str]:
    """The judge-assisted section of report.md."""
    judge = section["judge"]
    out = ["", f"## Judge-assisted SSA ({judge['name']}: {judge['kind']}, {judge['model']})", ""]
    share = section["human_share"]
    if share is not None and share["design"] == "active":
        out.append(
            f"People labelled the items of {share['contexts']} contexts drawn actively (seed "
            f"{share['seed']}): each context's chance was set from {share['judge']}'s uncertainty "
            f"on its items, mixed with a uniform floor of {share['floor']:g}"
            + (f", after a uniform pilot of {share['pilot']} contexts" if share["pilot"] else "")
            + f"; the judge labelled every item. Estimates are inverse-probability-weighted "
            f"PPI++ ({confidence:.0%} score intervals), valid whatever the judge's bias; people "
            "alone are weighted the same way."
        )
    elif share is not None:
        out.append(
            f"People labelled the items of {share['contexts']} contexts drawn uniformly at "
            f"random (seed {share['seed']}); the judge labelled every item. Estimates are PPI++ "
            f"(prediction-powered, {confidence:.0%} intervals), valid whatever the judge's bias."
        )
    out.append(
        "Gold items are checks on people, not items of a system: never drawn, never judged. "
        "With adaptive overlap an item's vote counts once it is decided, as above."
    )
    if section["refused"] is not None:
        out += ["", f"**Judge-assisted estimates refused:** {section['refused']}."]
    else:
        out += [
            "",
            "| system | items | people's items (labels) | sensibleness | specificity | SSA "
            "| SSA, people alone | labels people alone would need |",
            "|---|---:|---:|---|---|---|---|---:|",
        ]
        for s in section["systems"]:
            if "ssa" not in s:
                continue
            cells = [_cell(s[m]) for m in METRICS]
            out.append(
                f"| {s['name']} | {s['items']} | {s['human_items']} ({s['human_labels']}) | "
                f"{' | '.join(cells)} | {_cell(s['ssa']['human_only'])} | "
                f"{s['human_labels_without_judge']} |"
            )
        for c in section["comparisons"]:
            d = c["ssa"]
            if d is None:
                continue
            h = d["human_only"]
            out.append(
                f"- **{c['a']} minus {c['b']}**: SSA {d['difference']:+.3f} "
                f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]; people alone {h['difference']:+.3f} "
                f"[{h['ci_low']:+.3f}, {h['ci_high']:+.3f}]"
            )
    out += ["", "Judge and people agree (items with both):", ""]
    for question, a in section["agreement"].items():
        if a["accuracy"] is None:
            out.append(f"- {question}: no items with both yet")
            continue
        kappa = "n/a" if a["kappa"] is None else f"{a['kappa']:.2f}"
        (tn, fp), (fn, tp) = a["confusion"]
        out.append(
            f"- {question}: accuracy {a['accuracy']:.3f}, Cohen's kappa {kappa} on {a['items']} "
            f"items (people yes, judge yes {tp}; yes, no {fn}; no, yes {fp}; no, no {tn})"
        )
    for s in section["systems"]:
        if "ssa" in s["bias"]:
            b, r = s["bias"]["ssa"], s["correlation"]
            out.append(
                f"- judge bias on {s['name']} (SSA, judge minus people): {b['estimate']:+.3f} "
                f"[{b['ci_low']:+.3f}, {b['ci_high']:+.3f}]; correlation with people's item SSA "
                f"{'n/a' if r is None else f'{r:.2f}'} (what planning takes)"
            )
    for name in section["bias_flags"]:
        out.append(
            f"- **{name}: the judge's bias differs from the other systems'** (it may favour "
            "or disfavour this model; the estimates stay valid, the judge's table alone "
            "would not be)"
        )
    return out


def _cell(m: dict[str, Any]) -> str:
    return f"{m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
