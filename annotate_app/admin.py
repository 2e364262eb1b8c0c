"""The admin page: progress with an ETA, an interim SSA table, raters to look at, new links and
studies, and the labels as CSV. Russian and English like the rest of the page. Everything it
shows comes from services, counted in the database where it can be; the interim report and the
rater table are cached for a minute."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from annotate_app.texts import ADMIN
from evaltool.annotation import monitor
from evaltool.annotation.accounts import add_annotator, disable, link
from evaltool.annotation.studies import PLATFORMS, create_study, study_link
from evaltool.errors import UserError
from evaltool.reporting.agreement import annotator_table
from evaltool.storage import db
from evaltool.storage.exports import labels_export

TOO_FAST_SECONDS = 3.0  # a median answer faster than this cannot have read the dialogue
INTERIM_SECONDS = 60  # how long an interim report is reused before it is built again


def _eta(missing: int, recent: int, a: dict[str, str]) -> str:
    """When the missing labels arrive at the last hour's pace."""
    if not missing:
        return a["eta_done"]
    if not recent:
        return a["eta_unknown"]
    return a["eta"].format(hours=f"{missing / recent:.1f}", rate=recent)


def _progress(engine, a: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """A bar per system and per study, with when the missing labels should be in."""
    st.subheader(a["systems"])
    now = monitor.progress(engine)
    for row in now.systems.itertuples():
        st.progress(float(row.done_share), text=f"{row.system}: {row.done}/{row.items}")
    st.caption(_eta(now.missing, now.recent, a))
    _studies(engine, a)


def _studies(engine, a: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Per study: workers finished out of the target (``--max-workers``, else those who came)."""
    rows = monitor.studies(engine)
    if rows:
        st.subheader(a["studies"])
    for name, is_open, target, came, finished in rows:
        goal = target or came
        state = a["open"] if is_open else a["closed"]
        text = a["study_line"].format(name=name, state=state, finished=finished, goal=goal)
        st.progress(min(1.0, finished / goal) if goal else 0.0, text=text)


@st.cache_data(ttl=INTERIM_SECONDS, show_spinner=False)
def interim_rows(database: str, _engine) -> list[dict[str, object]] | str:  # type: ignore[no-untyped-def]  # noqa: ARG001 (the cache key)
    """The interim SSA per system (estimate and interval), or why there is none yet; cached
    per database (its URL without the password) for a minute."""
    from evaltool.reporting.aggregate import interim

    try:
        systems = interim(_engine)
    except UserError as exc:
        return str(exc)
    return [
        {
            "name": s["name"],
            "items": s["items"],
            "ssa": None if s["ssa"] is None else round(s["ssa"]["estimate"], 3),
            "interval": None
            if s["ssa"] is None
            else f"[{s['ssa']['ci_low']:.3f}, {s['ssa']['ci_high']:.3f}]",
        }
        for s in systems
    ]


def _interim(rows: list[dict[str, object]] | str, a: dict[str, str]) -> None:
    st.subheader(a["interim"])
    st.caption(a["interim_note"])
    if isinstance(rows, str):
        st.info(rows)
        return
    names = {"name": a["system"], "items": a["items"], "ssa": "SSA", "interval": a["interval"]}
    st.dataframe(pd.DataFrame(rows).rename(columns=names), hide_index=True)


@st.cache_data(ttl=INTERIM_SECONDS, show_spinner=False)
def rater_rows(database: str, _engine) -> pd.DataFrame:  # type: ignore[no-untyped-def]  # noqa: ARG001 (the cache key)
    """Each rater's numbers from counts the database makes, cached per database for a minute
    like the interim report; disabling someone clears it."""
    return annotator_table(**vars(monitor.rater_counts(_engine)))


@st.cache_data(ttl=INTERIM_SECONDS, show_spinner=False)
def model_accuracy(database: str, _engine) -> dict[str, float]:  # type: ignore[no-untyped-def]  # noqa: ARG001 (the cache key)
    """Each rater's accuracy as a Dawid-Skene model estimates it, by name (needs crowd-kit;
    reads every label, so the page makes it only when asked)."""
    labels = monitor.checked_labels(_engine)
    try:
        from evaltool.reporting.ratermodels import rater_accuracy

        by_id = rater_accuracy(labels)
    except (UserError, ImportError, ValueError):
        return {}
    names = dict(zip(labels["annotator_id"], labels["annotator"], strict=True))
    return {names[i]: float(v) for i, v in by_id.items() if i in names}


def _raters(engine, people: pd.DataFrame, a: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    st.subheader(a["annotators"])
    if st.toggle(a["estimate"], key="estimate"):
        people["model_accuracy"] = people["name"].map(model_accuracy(db.shown(engine), engine))
    look = (people["median_seconds"].fillna(99) < TOO_FAST_SECONDS) | people["flagged"]

    def mark(row: pd.Series) -> list[str]:
        color = "background-color: #ffe0b2" if look.loc[row.name] else ""
        return [color] * len(row)

    st.dataframe(people.style.apply(mark, axis=1), hide_index=True)
    st.caption(a["look_at"].format(seconds=TOO_FAST_SECONDS))
    active = [n for n, on in zip(people["name"], people["active"], strict=True) if on]
    who = st.selectbox(a["disable"], ["", *active], key="disable_who")
    if who and st.button(f"{a['disable']}: {who}", key="disable_go"):
        disable(engine, who)
        rater_rows.clear()
        st.rerun()


def _create(engine, a: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    st.subheader(a["new"])
    host = st.context.headers.get("host", "127.0.0.1:8501")
    hostname, _, port = host.partition(":")
    with st.form("new_link"):
        name = st.text_input(a["name"])
        is_admin = st.checkbox(a["is_admin"])
        if st.form_submit_button(a["make_link"]) and name.strip():
            try:
                url = link(add_annotator(engine, name, admin=is_admin), hostname, int(port or 80))
                st.code(url, language=None)
                st.caption(a["shown_once"])
            except UserError as exc:
                st.error(str(exc))
    with st.form("new_study"):
        name = st.text_input(a["study_name"])
        platform = st.selectbox(a["platform"], PLATFORMS)
        quota = st.number_input(a["per_worker"], min_value=1, value=20)
        gold = st.number_input(a["gold_per_worker"], min_value=0, value=2)
        training = st.number_input(a["qualification"], min_value=0, value=0)
        if st.form_submit_button(a["make_study"]) and name.strip():
            try:
                made = create_study(engine, name, platform, int(quota), int(gold), int(training))
                st.code(study_link(made, hostname, int(port or 80)), language=None)
            except UserError as exc:
                st.error(str(exc))


def admin(lang: str) -> None:
    """The whole admin page."""
    a = ADMIN[lang]
    engine = db.as_engine(None)
    st.title(a["title"])
    if st.button(a["back"], key="admin_back"):
        st.session_state.pop("page", None)
        st.query_params.pop("page", None)
        st.rerun()
    side_by_side = ThreadPoolExecutor(2)
    ctx = get_script_run_ctx()
    interim, raters = (
        side_by_side.submit(_with(ctx, table), db.shown(engine), engine)
        for table in (interim_rows, rater_rows)
    )
    _progress(engine, a)
    _interim(interim.result(), a)
    _raters(engine, raters.result(), a)
    side_by_side.shutdown()
    _create(engine, a)
    st.download_button(a["download"], _labels_csv, "labels.csv", "text/csv", key="dl")


def _with(ctx, table):  # type: ignore[no-untyped-def]
    """``table`` run in a worker thread as part of this page's run (Streamlit's cache needs
    the run's context): the interim and rater tables each read every label, and the database
    reads them side by side while the page draws the progress bars."""

    def run(*args):  # type: ignore[no-untyped-def]
        add_script_run_ctx(threading.current_thread(), ctx)
        return table(*args)

    return run


def _labels_csv() -> str:
    """Every label as CSV, made when the button is clicked (not on every render)."""
    try:
        return labels_export(db.as_engine(None)).to_csv(index=False)
    except UserError:
        return ""
