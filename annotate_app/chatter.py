"""The chat page as a Streamlit component (components v2, inline JS and CSS, no build).

The browser sends one message per human turn; the callback stores it with the pending bot turn
(``annotation.chat``). While a reply is pending the fragment, once it has drawn the chat with
its typing sign, looks for the reply every 50 ms for up to a second and then runs again, so the
reply is drawn about as soon as a bot process stores it, without a reload. The component sets
every server text with ``textContent``: bot output never becomes markup.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError

from annotate_app.assets import component_files
from annotate_app.texts import CHAT, TEXTS
from evaltool.annotation import chat
from evaltool.errors import UserError

CHATTER = st.components.v2.component("evaltool_chat", **component_files("chat"))
KEY = "chatter"
WAIT_SECONDS = 1.0  # a run waits this long for the reply (looking every 50 ms), then runs again
# A reply not there after this many seconds: the page says so (the turn is kept).
LATE_SECONDS = float(os.environ.get("EVALTOOL_BOT_TIMEOUT") or 60)
SHARED = ["language", "other_lang", "code_intro", "return_link"]


def payload(view: chat.ChatView, lang: str) -> dict[str, Any]:
    """What the component draws: the chat, with the page's words in the chosen language."""
    waiting = view.waiting is not None
    return {
        "view": view.kind,
        "chat_id": view.chat_id,
        "turns": [
            {"position": t.position, "speaker": t.speaker, "text": t.text, "flag": t.flag}
            for t in view.turns
        ],
        "waiting": waiting,
        "late": waiting and (view.waiting or 0) > LATE_SECONDS,
        "can_finish": view.can_finish,
        "must_finish": view.must_finish,
        "max_chars": view.max_chars,
        "min_turns": view.min_turns,
        "max_turns": view.max_turns,
        "code": view.code,
        "finish": view.finish,
        "lang": lang,
        "t": {**{k: TEXTS[lang][k] for k in SHARED}, **CHAT[lang]},
    }


def _act(token: str, campaign: str) -> None:
    """The component's callback: store what the browser sent and keep the next view."""
    state = st.session_state
    sent = state[KEY]
    try:
        if sent.get("send") is not None:
            state.chat_view = chat.send(None, token, campaign, str(sent["send"]))
        elif sent.get("finish"):
            state.chat_view = chat.finish(None, token, campaign)
        elif sent.get("report"):
            report = sent["report"]
            chat.report_reply(None, token, campaign, int(report["position"]), str(report["flag"]))
            state.chat_view = None
        elif sent.get("nav") == "again":
            state.chat_view = None
        elif sent.get("nav") == "lang":
            state.chat_nav = "lang"
    except UserError as exc:
        state.chat_view, state.chat_problem = None, str(exc)


def show(token: str, campaign: str, lang: str) -> str | None:
    """Draw the chat; returns "lang" when the other language was asked for. While a reply is
    pending, wait for it after drawing, then run the fragment again (``st.rerun``) to draw it."""
    state = st.session_state
    view = state.pop("chat_view", None) or chat.view(None, token, campaign)
    if state.get("chat_problem"):
        st.warning(state.pop("chat_problem"))
    CHATTER(
        data=payload(view, lang),
        key=KEY,
        on_send_change=lambda: _act(token, campaign),
        on_finish_change=lambda: _act(token, campaign),
        on_report_change=lambda: _act(token, campaign),
        on_nav_change=lambda: _act(token, campaign),
    )
    asked = state.pop("chat_nav", None)
    if view.waiting is not None and asked is None:
        state.chat_view = chat.view(None, token, campaign, WAIT_SECONDS)
        try:
            st.rerun(scope="fragment")
        except StreamlitInvalidLayoutContextError:  # a whole-page run reruns the whole page
            st.rerun()
    return asked
