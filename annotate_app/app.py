"""The annotation page: a thin Streamlit layer over ``evaltool.annotation``.

Started by ``evaltool annotate``; the database URL comes from ``$EVALTOOL_DB``. Model output
and contexts are shown with ``st.text`` only, so they are never read as Markdown or HTML.
"""

from __future__ import annotations

import time

import streamlit as st

from annotate_app.texts import INSTRUCTIONS, TEXTS
from evaltool.annotation import assignment as svc
from evaltool.errors import UserError

st.set_page_config(page_title="evaltool", page_icon="💬", layout="centered")
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


def header(name: str, is_admin: bool) -> None:
    cols = st.columns([3, 1, 1, 1])
    cols[0].caption(T["hello"].format(name=name))
    if cols[1].button(T["instructions"], key="nav_help"):
        st.query_params["page"] = "help"
        st.rerun()
    if is_admin and cols[2].button(T["admin"], key="nav_admin"):
        st.query_params["page"] = "admin"
        st.rerun()
    if cols[3].button(T["language"], key="nav_lang"):
        state.lang = "en" if state.lang == "ru" else "ru"
        st.rerun()


def instructions(token: str) -> None:
    st.title(T["instructions"])
    st.markdown(INSTRUCTIONS[state.lang])  # our own text, not model output
    if st.button(T["start"], type="primary", key="start"):
        svc.mark_instructions_seen(None, token)
        st.query_params.pop("page", None)
        st.rerun()


def admin() -> None:
    from evaltool.annotation.accounts import disable
    from evaltool.annotation.monitor import annotator_stats, system_progress
    from evaltool.storage import db
    from evaltool.storage.exports import labels_frame

    engine = db.as_engine(None)
    st.title(T["admin"])
    if st.button(T["back"], key="admin_back"):
        st.query_params.pop("page", None)
        st.rerun()
    st.subheader("Systems")
    st.dataframe(system_progress(engine), hide_index=True)
    st.subheader("Annotators")
    people = annotator_stats(engine)
    st.dataframe(people, hide_index=True)
    active = [n for n, a in zip(people["name"], people["active"], strict=True) if a]
    who = st.selectbox("Disable an annotator", ["", *active], key="disable_who")
    if who and st.button(f"Disable {who}", key="disable_go"):
        disable(engine, who)
        st.rerun()
    try:
        csv = labels_frame(engine).to_csv(index=False)
    except UserError:
        csv = ""
    st.download_button("Download labels (CSV)", csv, "labels.csv", "text/csv", key="dl")


def show_task(task: svc.Task) -> None:
    st.subheader(T["context"])
    n = len(task.turns)
    for i, turn in enumerate(task.turns):
        person = (n - 1 - i) % 2 == 0  # the last context turn is the person's
        with st.chat_message("user" if person else "assistant"):
            st.caption(T["speaker_a"] if person else T["speaker_b"])
            st.text(turn)
    st.subheader(T["response"])
    with st.container(border=True), st.chat_message("assistant"):
        st.caption(T["speaker_b"])
        st.text(task.response)


def choice(label: str, help_text: str, key: str, keys: tuple[str, str]) -> bool | None:
    st.markdown(f"**{label}**")
    st.caption(help_text)
    current = state.get(key)
    c1, c2, _ = st.columns([1, 1, 3])
    yes = c1.button(
        T["yes"],
        key=f"{key}_y",
        shortcut=keys[0],
        type="primary" if current is True else "secondary",
    )
    no = c2.button(
        T["no"],
        key=f"{key}_n",
        shortcut=keys[1],
        type="primary" if current is False else "secondary",
    )
    if yes or no:
        state[key] = bool(yes)
        st.rerun()
    return current


def label_page(token: str) -> None:
    st.title(T["title"])
    task = svc.next_task(None, token)
    p = svc.progress(None, token)
    st.caption(T["progress"].format(done=p.labelled, left=p.remaining))
    if state.pop("flash", None):
        st.toast(T["saved"])
    if task is None:
        st.success(T["all_done"])
        return
    rid = task.response_id
    state.setdefault(f"shown_{rid}", time.monotonic())
    show_task(task)
    sensible = choice(T["sensible_q"], T["sensible_help"], f"sens_{rid}", ("1", "2"))
    specific = None
    if sensible:
        specific = choice(T["specific_q"], T["specific_help"], f"spec_{rid}", ("3", "4"))
    ready = sensible is False or specific is not None
    st.caption(T["keys"])
    if st.button(
        T["submit"], type="primary", disabled=not ready, key=f"submit_{rid}", shortcut="Enter"
    ):
        seconds = time.monotonic() - state[f"shown_{rid}"]
        result = svc.submit_label(None, token, rid, bool(sensible), bool(specific), seconds)
        state["flash"] = result.stored
        st.rerun()


def main() -> None:
    token = st.query_params.get("token")
    if not token:
        login_form()
    try:
        me = svc.whoami(None, token)
    except UserError as exc:
        login_form(str(exc))
    page = st.query_params.get("page")
    header(me.name, me.role == "admin")
    try:
        if page == "help" or not me.seen_instructions:
            instructions(token)
        elif page == "admin":
            if me.role == "admin":
                admin()
            else:
                st.error(T["admin_only"])
        else:
            label_page(token)
    except UserError as exc:
        st.error(str(exc))


main()
