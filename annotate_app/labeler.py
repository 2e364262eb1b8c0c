"""The labelling task as a Streamlit component (components v2, inline JS and CSS, no build).

The browser keeps the answer until it is complete and sends it once; the callback stores it
and asks the service for the next item in the same transaction, so an item costs one round
trip. The component sets every server text with ``textContent``: nothing becomes markup.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from annotate_app.assets import component_files
from annotate_app.texts import PAIR, TEXTS
from evaltool.annotation import flow
from evaltool.annotation.flow import SKIP_REASONS
from evaltool.annotation.tasks import PairTask
from evaltool.errors import UserError

LABELER = st.components.v2.component("evaltool_labeler", **component_files("labeler", "pairs"))
KEY = "labeler"
# The words the component draws; only these travel with each reply.
WORDS = [
    "admin",
    "code_intro",
    "context",
    "continue",
    "feedback_right",
    "feedback_title",
    "feedback_wrong",
    "finished_title",
    "instructions",
    "keys",
    "language",
    "no",
    "other_lang",
    "progress",
    "progress_label",
    "response",
    "return_link",
    "sensible_help",
    "sensible_q",
    "skip",
    "skip_confirm",
    "skip_reason",
    "speaker_a",
    "speaker_b",
    "specific_help",
    "specific_q",
    "submit",
    "training",
    "undo",
    "yes",
]
TITLES = {
    "empty": ("all_done_title", "all_done"),
    "stopped": ("stopped_title", "stopped"),
}


def payload(view: flow.View, lang: str, is_admin: bool = False) -> dict[str, Any]:
    """What the component draws: the view, with the page's words in the chosen language."""
    t = TEXTS[lang]
    item = None if view.task is None else _item(view, lang)
    title, body = TITLES.get(view.kind, ("", ""))
    message = t.get(f"stopped_{(view.message or '').replace(' ', '_')}", t.get(body, ""))
    return {
        "view": view.kind,
        "item": item,
        "done": view.done,
        "quota": view.quota,
        "training": list(view.training) if view.training else None,
        "feedback": view.feedback,
        "code": view.code,
        "finish": view.finish,
        "can_undo": view.can_undo,
        "title": t.get(title, ""),
        "message": message,
        "reasons": [[r, t[f"reason_{r.replace(' ', '_')}"]] for r in SKIP_REASONS],
        "lang": lang,
        "is_admin": is_admin,
        "t": {**{k: t[k] for k in WORDS}, **PAIR[lang]},
    }


def _item(view: flow.View, lang: str) -> dict[str, Any]:
    """The leased item as the component draws it: an SSA response, or a pair's two sides
    with the question (the project's own, else the default for replies or for chats)."""
    task = view.task
    if isinstance(task, PairTask):
        default = PAIR[lang]["pair_q_chats" if task.conversation else "pair_q"]
        return {
            "kind": "pairs",
            "id": task.item_id,
            "turns": task.turns,
            "left": task.left,
            "right": task.right,
            "conversation": task.conversation,
            "question": view.extra.get("question") or default,
        }
    assert task is not None
    return {"kind": "ssa", "id": task.response_id, "turns": task.turns, "response": task.response}


def _act(token: str, rng: Any) -> None:
    """The component's callback: do what the browser asked and keep the next view."""
    state = st.session_state
    sent = state[KEY]
    try:
        if sent.get("answer") and sent["answer"].get("side"):
            a = sent["answer"]
            state.view = flow.choose(
                None,
                token,
                int(a["id"]),
                str(a["side"]),
                str(a.get("reason") or "") or None,
                float(a.get("seconds") or 0) or None,
                rng,
            )
        elif sent.get("answer"):
            a = sent["answer"]
            state.view = flow.answer(
                None,
                token,
                int(a["id"]),
                bool(a["sensible"]),
                bool(a["specific"]),
                float(a.get("seconds") or 0) or None,
                rng,
            )
        elif sent.get("undo"):
            state.view = flow.undo(None, token)
        elif sent.get("skip"):
            state.view = flow.skip(None, token, int(sent["skip"]["id"]), sent["skip"]["reason"])
        elif sent.get("nav") == "next":
            state.view = None
        elif sent.get("nav") in ("help", "lang", "admin"):
            state.nav = sent["nav"]
    except UserError as exc:
        state.view, state.problem = None, str(exc)


def show(token: str, lang: str, is_admin: bool = False, rng: Any = None) -> str | None:
    """Draw the task; returns "help", "lang" or "admin" when another page was asked for."""
    state = st.session_state
    if state.get("problem"):
        st.warning(state.pop("problem"))
    view = state.get("view") or flow.view(None, token, rng)
    state.view = view
    LABELER(
        data=payload(view, lang, is_admin),
        key=KEY,
        on_answer_change=lambda: _act(token, rng),
        on_undo_change=lambda: _act(token, rng),
        on_skip_change=lambda: _act(token, rng),
        on_nav_change=lambda: _act(token, rng),
    )
    return state.pop("nav", None)
