"""The dataset card of ``export dataset``: the YAML header ``datasets`` and the Hub read
(license, languages, configs and their features), then how the labels were collected and
the report's table, its numbers those of the report.json beside it."""

from __future__ import annotations

import json
from typing import Any

import yaml

DESCRIBED = {
    "contexts": "the validation set: id, turns, reference (what `evaltool contexts import` reads)",
    "items": "one row per system and context: the context, the system's response and decoding, "
    "people's label counts and majority votes, and whether the report counted the item",
    "labels": "every label: item, annotator (a salted hash), sensible, specific, seconds, "
    "source, whether the annotator was flagged and whether the item was a gold check",
    "judge_labels": "automatic judges' probabilities per item (sensible; specific given sensible)",
    "pair_labels": "side-by-side answers in Chatbot Arena's fields (judge: a salted hash)",
    "conversations": "chat campaigns' conversations, each bot turn with its labels and vote",
}


def card(
    report: dict[str, Any],
    systems: list[dict[str, Any]],
    rows: dict[str, int],
    features: dict[str, Any],
    license: str,
    gold_labels: int,
) -> str:
    """README.md for the dataset folder."""
    header = {
        "license": license,
        "language": ["ru", "en"],
        "pretty_name": f"{report['dataset']}: SSA human evaluation",
        "tags": ["dialogue", "human-evaluation", "ssa", "evaltool"],
        "configs": [
            {
                "config_name": name,
                "data_files": [{"split": "train", "path": f"data/{name}/train.parquet"}],
                **({"default": True} if name == "items" else {}),
            }
            for name in rows
        ],
        "dataset_info": [
            {
                "config_name": name,
                "features": features[name],
                "splits": [{"name": "train", "num_examples": n}],
            }
            for name, n in rows.items()
        ],
    }
    body = [
        f"# {report['dataset']}: SSA human evaluation",
        "",
        f"Made with evaltool {report['evaltool_version']} (`evaltool export dataset`) on "
        f"{report['generated_at']}. Load a config with `datasets.load_dataset(PATH, "
        '"items")` (Parquet under `data/`) or `datasets.load_from_disk(PATH + '
        '"/disk/items")`.',
        "",
        "## Configs",
        "",
        *[f"- **{name}** ({n} rows): {DESCRIBED[name]}" for name, n in rows.items()],
        "",
        *_protocol(report, gold_labels),
        "",
        *_table(report),
        "",
        "## Systems",
        "",
        *[f"- **{s['name']}** ({s['kind']}): {_provenance(s)}" for s in systems],
        "",
        "## Consent and privacy",
        "",
        "Labels were given on evaltool's annotation page by annotators who agreed to the "
        "study's terms. Annotators appear only as salted hashes, the same within this export "
        "and unlinkable across exports; no names, platform ids or completion codes are included.",
        "",
    ]
    return (
        "---\n"
        + yaml.safe_dump(header, allow_unicode=True, sort_keys=False)
        + "---\n\n"
        + "\n".join(body)
    )


def _protocol(report: dict[str, Any], gold_labels: int) -> list[str]:
    settings, excluded = report["settings"], report["exclusions"]
    alpha = report["agreement"]["sensible"].get("krippendorff_alpha")
    agreement = "n/a" if alpha is None else f"{alpha:.3f}"
    return [
        "## How the labels were collected",
        "",
        "Meena's SSA protocol (Adiwardana et al., 2020; evaltool's `docs/protocol.md`): each "
        "rater sees a context and one response and answers two questions. **Sensible?** Does "
        "the response make sense in this context (logic, common sense, consistency; when in "
        "doubt, no). **Specific?** Asked only after a yes: is it specific to this context, or "
        "could it follow dozens of others. A not-sensible response is not specific.",
        "",
        f"- overlap: {settings['overlap']} raters per item"
        + (
            " (adaptive: an item stops once its majority is decided)"
            if settings["adaptive"]
            else ""
        )
        + f"; an item counts with at least {settings['min_labels']} labels",
        f"- gold checks: {gold_labels} labels on gold items (known answers, mixed in to check "
        "raters; the labels config marks them), never counted in the table",
        f"- exclusions: {len(excluded['flagged_annotators'])} flagged annotators "
        f"({excluded['labels_from_flagged']} labels left out); "
        f"{excluded['items_below_min_labels']} items short of labels",
        f"- agreement on sensible: Krippendorff's alpha {agreement}",
        f"- intervals: {settings['confidence']:.0%}, {settings['method']} "
        f"({settings['resamples']} resamples, seed {settings['seed']})",
    ]


def _table(report: dict[str, Any]) -> list[str]:
    """The report's table: estimates and intervals to 3 decimals."""
    out = [
        "## Results (the report's table)",
        "",
        "| system | items | labels | sensibleness | specificity | SSA |",
        "|---|---:|---:|---|---|---|",
    ]
    for s in report["systems"]:
        cells = [_cell(s[m]) for m in ("sensibleness", "specificity", "ssa")]
        out.append(f"| {s['name']} | {s['items']} | {s['labels']} | {' | '.join(cells)} |")
    return out


def _cell(m: dict[str, Any] | None) -> str:
    if m is None:
        return "n/a"
    return f"{m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _provenance(system: dict[str, Any]) -> str:
    parts = [f"model {system['model']}" if system["model"] else "no model"]
    if system["revision"]:
        parts.append(f"revision {system['revision']}")
    if system["settings"]:
        parts.append(
            "settings " + json.dumps(system["settings"], ensure_ascii=False, sort_keys=True)
        )
    return "; ".join(parts)
