"""``evaltool report --chat CAMPAIGN``: interactive SSA per bot (Meena's second mode).

Each bot turn of a finished chat is an item, voted like any other (``votes``). The turns of one
conversation are not independent, so intervals resample conversations
(``stats.cluster_bootstrap``), and bots, which met different people, are compared as
independent samples. Beside each bot: its static SSA where the same system was labelled on the
static dataset too, chats abandoned below the minimum (kept, excluded) and replies reported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from evaltool import __version__
from evaltool.errors import UserError
from evaltool.reporting import stats
from evaltool.reporting.aggregate import ReportSettings, included, interim, vote_items
from evaltool.reporting.render import bars, cell, write_files, write_json
from evaltool.reporting.tables import order_pairs
from evaltool.storage.chats import bot_turn_frame, chat_frame, get_campaign, turns_of
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.labels import item_counts, label_frame
from evaltool.storage.project import load_settings
from evaltool.storage.schema import ChatBot, System

METRICS = ("sensibleness", "specificity", "ssa")
BOOTSTRAP = {"bca": "BCa bootstrap", "percentile": "percentile bootstrap"}


def load(engine: Engine, campaign: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str], Any]:
    """(items with their chat, chats, bot names by system id, project settings)."""
    with session_scope(engine, readonly=True) as s:
        camp = get_campaign(s, campaign)
        project = load_settings(s)
        counts = item_counts(s, camp.dataset_id)
        turns = bot_turn_frame(s, camp.id)
        chats = chat_frame(s, camp.id)
        bots = select(System.id, System.name).join(ChatBot, ChatBot.system_id == System.id)
        names = dict(
            s.execute(bots.where(ChatBot.campaign_id == camp.id).order_by(ChatBot.id)).all()
        )
    items = vote_items(counts).merge(turns, on="context_id", how="right")
    return items, chats, names, project


def build(
    engine: Engine, campaign: str, dataset: str | None, settings: ReportSettings
) -> dict[str, Any]:
    """Every number of the interactive report, as a plain dict (report.json)."""
    settings = settings.validate()
    items, chats, names, project = load(engine, campaign)
    k = project.overlap
    labelled = items.dropna(subset=["labels"])
    complete, early = included(labelled, settings.min_labels or k, k, project.adaptive)
    kept = labelled[complete | early]
    ids = list(names)
    groups = [_clusters(kept, chats, sid) for sid in ids]
    have = [i for i, g in enumerate(groups) if len(g)]
    pairs = order_pairs([names[ids[i]] for i in have], settings.compare)
    method = "bca" if settings.method in ("score", "bca") else "percentile"
    ivs, diffs = [], []
    if have:
        ivs, diffs = stats.cluster_bootstrap(
            [groups[i] for i in have],
            pairs,
            resamples=settings.resamples,
            seed=settings.seed,
            confidence=settings.confidence,
            method=method,
        )
    by_index = dict(zip(have, ivs, strict=True))
    static = _static(engine, dataset)
    report: dict[str, Any] = {
        "evaltool_version": __version__,
        "campaign": campaign,
        "static_dataset": static[0],
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "settings": {
            "resamples": settings.resamples,
            "seed": settings.seed,
            "confidence": settings.confidence,
            "interval": method,
            "min_labels": settings.min_labels or k,
            "resampled": "conversations",
        },
        "bots": [
            _bot(names[sid], sid, chats, items, groups[i], by_index.get(i), static[1])
            for i, sid in enumerate(ids)
        ],
        "comparisons": [
            {"a": names[ids[have[a]]], "b": names[ids[have[b]]], **_difference(d)}
            for (a, b), d in zip(pairs, diffs, strict=True)
        ],
    }
    return report


def _clusters(kept: pd.DataFrame, chats: pd.DataFrame, system_id: int) -> Any:
    """The bot's finished conversations as (items, sensible, specific) counts."""
    finished = chats[(chats["system_id"] == system_id) & (chats["state"] == "finished")]
    own = kept[kept["chat_id"].isin(finished["chat_id"])]
    per = own.groupby("chat_id").agg(
        n=("sensible", "size"), s=("sensible", "sum"), p=("specific", "sum")
    )
    return per[["n", "s", "p"]].to_numpy(dtype=float)


def _bot(
    name: str,
    system_id: int,
    chats: pd.DataFrame,
    items: pd.DataFrame,
    clusters: Any,
    ivs: dict[str, stats.Interval] | None,
    static: dict[str, Any],
) -> dict[str, Any]:
    own = chats[chats["system_id"] == system_id]
    finished = own[own["state"] == "finished"]
    turns = items[items["chat_id"].isin(finished["chat_id"])]
    flags = turns["flag"].value_counts().to_dict()
    entry: dict[str, Any] = {
        "name": name,
        "conversations": len(clusters),
        "finished": len(finished),
        "abandoned": int((own["state"] == "abandoned").sum()),
        "open": int((own["state"] == "open").sum()),
        "bot_turns": int(sum(c[0] for c in clusters)),
        "bot_turns_short_of_labels": len(turns) - int(sum(c[0] for c in clusters)),
        "mean_turns": float(finished["turns"].mean()) if len(finished) else None,
        "reported": {flag: int(flags.get(flag, 0)) for flag in ("offensive", "broken")},
        "static_ssa": static.get(name),
    }
    for m in METRICS:
        iv = ivs[m] if ivs else None
        entry[m] = (
            None if iv is None else {"estimate": iv.estimate, "ci_low": iv.low, "ci_high": iv.high}
        )
    return entry


def _difference(d: dict[str, stats.Difference]) -> dict[str, Any]:
    return {
        m: {
            "difference": v.difference,
            "ci_low": v.low,
            "ci_high": v.high,
            "share_at_or_below_zero": v.share_at_or_below_zero,
        }
        for m, v in d.items()
    }


def _static(engine: Engine, dataset: str | None) -> tuple[str | None, dict[str, Any]]:
    """The static dataset's name and each system's SSA there (none when there is none)."""
    try:
        rows = interim(engine, dataset)
    except UserError:
        if dataset is not None:
            raise
        return None, {}
    with session_scope(engine, readonly=True) as s:
        name = resolve_dataset(s, dataset).name
    return name, {r["name"]: r["ssa"] for r in rows if r["ssa"] is not None}


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """report.md, report.json and ssa.png (the bots' bars) written into ``out`` at once."""
    conf = report["settings"]["confidence"]
    title = f"Interactive SSA in {report['campaign']} ({conf:.0%} CI, conversations resampled)"
    return write_files(
        out,
        {
            "report.md": lambda p: p.write_text(markdown(report), encoding="utf-8"),
            "report.json": lambda p: write_json(report, p),
            "ssa.png": lambda p: bars(report["bots"], title, p),
        },
    )


def markdown(report: dict[str, Any]) -> str:
    """The interactive report as Markdown: the table, then the comparisons."""
    conf = report["settings"]["confidence"]
    static = report["static_dataset"]
    out = [
        f"# Interactive SSA: {report['campaign']}",
        "",
        "People chatted with each bot; others labelled every bot turn. The intervals "
        f"({conf:.0%}, {BOOTSTRAP[report['settings']['interval']]}) resample whole "
        "conversations: the turns of one conversation are not independent.",
        "",
        "| bot | conversations | bot turns | mean turns | sensibleness | specificity | SSA "
        f"| static SSA{f' ({static})' if static else ''} |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for b in report["bots"]:
        mean = "n/a" if b["mean_turns"] is None else f"{b['mean_turns']:.1f}"
        out.append(
            f"| {b['name']} | {b['conversations']} | {b['bot_turns']} | {mean} | "
            f"{cell(b['sensibleness'])} | {cell(b['specificity'])} | {cell(b['ssa'])} | "
            f"{cell(b['static_ssa'])} |"
        )
    out += ["", "## Comparisons", ""]
    for c in report["comparisons"]:
        d = c["ssa"]
        if d["ci_low"] is None:
            out.append(f"- **{c['a']} minus {c['b']}**: SSA {d['difference']:+.3f} (no interval)")
            continue
        verdict = "includes zero" if d["ci_low"] <= 0 <= d["ci_high"] else "excludes zero"
        out.append(
            f"- **{c['a']} minus {c['b']}**: SSA {d['difference']:+.3f} "
            f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}], the interval {verdict}."
        )
    out += ["", "## Conversations", ""]
    for b in report["bots"]:
        out.append(
            f"- **{b['name']}**: {b['finished']} finished, {b['abandoned']} abandoned below the "
            f"minimum (excluded), {b['open']} open; {b['bot_turns_short_of_labels']} bot turns "
            f"short of labels; replies reported offensive {b['reported']['offensive']}, broken "
            f"{b['reported']['broken']}."
        )
    return "\n".join(out) + "\n"


def conversations(engine: Engine, campaign: str) -> list[dict[str, Any]]:
    """Every chat of the campaign, one dict each: its bot, state and turns, each bot turn
    with its candidates, the labels it got and its majority vote (``export conversations``)."""
    with session_scope(engine, readonly=True) as s:
        camp = get_campaign(s, campaign)
        chats = chat_frame(s, camp.id)
        turns = {cid: turns_of(s, cid) for cid in chats["chat_id"]}
        labels = label_frame(s, camp.dataset_id)
        votes = vote_items(item_counts(s, camp.dataset_id))
        names = dict(s.execute(select(System.id, System.name)).all())
    by_response = labels.groupby("response_id")
    voted = votes.set_index("context_id")
    context_of = dict(zip(labels["response_id"], labels["context_id"], strict=True))
    out = []
    for chat in chats.itertuples():
        rows = []
        for t in turns[chat.chat_id]:
            row: dict[str, Any] = {"position": t.position, "speaker": t.speaker, "text": t.text}
            if t.speaker == "bot":
                row.update(flag=t.flag, candidates=[c["text"] for c in t.candidates])
                given = (
                    by_response.get_group(t.response_id)
                    if t.response_id in by_response.groups
                    else None
                )
                row["labels"] = (
                    []
                    if given is None
                    else [
                        {"annotator": a, "sensible": bool(x), "specific": bool(y)}
                        for a, x, y in zip(
                            given["annotator"], given["sensible"], given["specific"], strict=True
                        )
                    ]
                )
                ctx = context_of.get(t.response_id)
                row["vote"] = (
                    None
                    if ctx not in voted.index
                    else {
                        "sensible": bool(voted.loc[ctx, "sensible"]),
                        "specific": bool(voted.loc[ctx, "specific"]),
                    }
                )
            rows.append(row)
        out.append(
            {
                "chat_id": chat.chat_id,
                "bot": names[chat.system_id],
                "state": chat.state,
                "turns": rows,
            }
        )
    return out
