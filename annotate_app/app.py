"""The annotation page: sign-in, instructions, the labelling task, the chat page, the admin
page.

Started by ``evaltool annotate``; the database URL comes from ``$EVALTOOL_DB``. A person comes
with a personal link (``?token=``, with ``&chat=CAMPAIGN`` to chat) or from a crowd platform
with a study link (``?study=NAME&`` and the platform's worker parameters; a chat campaign's
study opens the chat). The task and the chat are components that send one message per
labelled item or human turn (``labeler``, ``chatter``); model output never becomes markup.
"""

from __future__ import annotations

import streamlit as st

from annotate_app import chatter, labeler
from annotate_app.texts import INSTRUCTIONS, TEXTS
from evaltool.annotation import chat, flow, studies
from evaltool.errors import UserError

st.set_page_config(page_title="evaltool", page_icon="💬", layout="centered")
# Our own CSS for Streamlit's frame: less padding and no menu, so the task fits one screen.
st.html(
    "<style>.block-container{padding-top:1.2rem;padding-bottom:1rem;max-width:820px}"
    "header[data-testid=stHeader]{display:none}footer{display:none}"
    "*{transition:none!important;animation:none!important}</style>"
)
state = st.session_state
state.setdefault("lang", "ru")
T = TEXTS[state.lang]


def login_form(message: str | None = None) -> None:
    """The only thing a visitor without a valid token sees."""
    st.title(T["login"])
    if message:
        st.error(message)
    st.caption(T["login_help"])
    with st.form("login"):
        token = st.text_input(T["token"], type="password")
        if st.form_submit_button(T["enter"]) and token.strip():
            st.query_params["token"] = token.strip()
            st.rerun()
    st.stop()


def token_from_link() -> str | None:
    """The personal token, or for a study link the token its worker gets on joining."""
    params = st.query_params.to_dict()
    study = params.pop("study", None)
    if study is None:
        return params.get("token")
    if state.get("study") != (study, params):
        try:
            state.token = studies.join_study(None, study, params).token
        except UserError as exc:
            st.title(T["study_error"])
            st.info(str(exc))
            st.stop()
        state.study, state.view = (study, params), None
    return state.token


def instructions(token: str) -> None:
    """The guidelines: at first login and whenever asked for."""
    st.title(T["instructions"])
    if st.button(T["language"], key="switch_lang"):
        state.lang = "en" if state.lang == "ru" else "ru"
        st.rerun()
    st.markdown(INSTRUCTIONS[state.lang])  # our own text, not model output
    if st.button(T["start"], type="primary", key="start"):
        flow.mark_instructions_seen(None, token)
        state.pop("page", None)
        st.query_params.pop("page", None)
        st.rerun()


@st.fragment
def labelling(token: str, is_admin: bool) -> None:
    """The task; only this part reruns while someone labels."""
    asked = labeler.show(token, state.lang, is_admin)
    if asked == "lang":
        state.lang = "en" if state.lang == "ru" else "ru"
        st.rerun()
    elif asked in ("help", "admin"):
        state.page = asked
        st.rerun()


@st.fragment
def chatting(token: str, campaign: str) -> None:
    """The chat; only this part reruns while a reply is awaited or a turn is sent."""
    try:
        asked = chatter.show(token, campaign, state.lang)
    except UserError as exc:
        st.error(str(exc))
        return
    if asked == "lang":
        state.lang = "en" if state.lang == "ru" else "ru"
        st.rerun()


def main() -> None:
    token = token_from_link()
    if not token:
        login_form()
    try:
        me = flow.whoami(None, token)
        campaign = st.query_params.get("chat") or chat.study_campaign(None, token)
    except UserError as exc:
        login_form(str(exc))
    if campaign:
        return chatting(token, campaign)
    page = state.get("page") or st.query_params.get("page")
    if page == "help" or not me.seen_instructions:
        instructions(token)
    elif page == "admin":
        if me.role != "admin":
            st.error(T["admin_only"])
            return
        from annotate_app.admin import admin

        admin(state.lang)
    else:
        labelling(token, me.role == "admin")


main()
