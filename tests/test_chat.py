"""Chat campaigns, the people's side (``annotation.chat``), on SQLite and PostgreSQL, with
baseline bots answering through the bots' own loop (``generation.chatbots.serve``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from evaltool.annotation import accounts, campaigns, chat, flow, studies
from evaltool.errors import UserError
from evaltool.generation import chatbots
from evaltool.storage import db
from evaltool.storage.schema import Chat, ChatTurn, Context, PoolItem, Response, utcnow


def campaign(engine, bots=("baseline:echo",), **rules) -> None:  # type: ignore[no-untyped-def]
    """A campaign named ``c`` with these bots; rules default to 2 chats a bot, 4 to 6 turns."""
    specs = [chatbots.bot_spec(b, None, {}) for b in bots]
    ids = chatbots.register_bots(engine, specs, [None] * len(specs), 0)
    rules = {"conversations": 2, "min_turns": 4, "max_turns": 6, **rules}
    with db.session_scope(engine) as s:
        campaigns.create_campaign(s, "c", ids, specs, campaigns.Rules(**rules))


def answer_all(engine) -> int:  # type: ignore[no-untyped-def]
    """Answer every pending turn with the campaign's bots, then stop; how many answered."""
    bots = chatbots.load_campaign_bots(engine, "c")
    pending = select(func.count(ChatTurn.id)).where(ChatTurn.state == "pending")

    def none_left(_: chatbots.Served) -> bool:
        with db.session_scope(engine, readonly=True) as s:
            return s.scalar(pending) == 0

    return chatbots.serve(engine, "c", bots, stop=none_left, poll=0.01).answered


def chat_to(engine, token: str, turns: int) -> chat.ChatView:  # type: ignore[no-untyped-def]
    """Open the chat and write until it has ``turns`` turns, every reply answered."""
    view = chat.view(engine, token, "c")
    answer_all(engine)
    while len(view.turns) < turns:
        view = chat.send(engine, token, "c", f"реплика {len(view.turns)}")
        answer_all(engine)
    return chat.view(engine, token, "c")


def test_a_chat_from_opening_to_finish_puts_its_bot_turns_in_the_pool(any_db) -> None:  # type: ignore[no-untyped-def]
    """The opening is the human's first turn; each bot turn of the finished chat is an item
    whose context is the chat before it; the chatter never labels it, another rater can."""
    campaign(any_db)
    me, other = accounts.add_annotator(any_db, "me"), accounts.add_annotator(any_db, "other")
    first = chat.view(any_db, me, "c")
    assert [(t.speaker, t.text) for t in first.turns] == [("human", "Привет!"), ("bot", None)]
    assert first.waiting is not None and not first.can_finish
    view = chat_to(any_db, me, 4)
    assert [t.speaker for t in view.turns] == ["human", "bot", "human", "bot"]
    assert view.turns[3].text == "реплика 2"  # echo repeats the last turn
    assert view.can_finish and not view.must_finish
    done = chat.finish(any_db, me, "c")
    assert done.kind == "finished"
    with db.session_scope(any_db, readonly=True) as s:
        contexts = s.scalars(select(Context).order_by(Context.id)).all()
        assert [c.turns for c in contexts] == [["Привет!"], ["Привет!", "Привет!", "реплика 2"]]
        items = s.scalars(select(PoolItem.response_id)).all()
        assert len(items) == 2
    assert flow.view(any_db, me).kind == "empty"  # nobody labels their own chat
    task = flow.view(any_db, other).task
    assert task is not None and task.response_id in items


def test_bad_turns_are_refused_and_nothing_is_stored(any_db) -> None:  # type: ignore[no-untyped-def]
    campaign(any_db)
    me = accounts.add_annotator(any_db, "me")
    chat.view(any_db, me, "c")
    with pytest.raises(UserError, match="wait for the reply"):
        chat.send(any_db, me, "c", "быстрее")
    answer_all(any_db)
    for text, why in (
        ("", "empty"),
        ("  \n\t ", "empty"),
        ("я" * 1001, "1001 characters; at most 1000"),
    ):
        with pytest.raises(UserError, match=why):
            chat.send(any_db, me, "c", text)
    with pytest.raises(UserError, match="at least 4 turns"):
        chat.finish(any_db, me, "c")
    assert len(chat.view(any_db, me, "c").turns) == 2
    view = chat_to(any_db, me, 6)
    assert view.must_finish
    with pytest.raises(UserError, match="reached its length"):
        chat.send(any_db, me, "c", "ещё")
    assert len(chat.view(any_db, me, "c").turns) == 6


def test_new_chats_go_to_the_bot_furthest_from_its_quota(any_db) -> None:  # type: ignore[no-untyped-def]
    """Two bots, two chats each: four people get two chats of each bot, a fifth finds the
    campaign full, and an abandoned chat's slot comes back."""
    campaign(any_db, bots=("baseline:echo", "baseline:generic"))
    people = [accounts.add_annotator(any_db, f"p{i}") for i in range(5)]
    views = [chat.view(any_db, p, "c") for p in people[:4]]
    with db.session_scope(any_db, readonly=True) as s:
        per_bot = s.execute(select(Chat.bot_id, func.count()).group_by(Chat.bot_id)).all()
    assert sorted(n for _, n in per_bot) == [2, 2]
    assert chat.view(any_db, people[4], "c").kind == "full"
    with db.session_scope(any_db) as s:  # p0 left an hour ago, below the minimum
        hour_ago = utcnow() - timedelta(hours=1)
        mine = select(ChatTurn.id).where(ChatTurn.chat_id == views[0].chat_id)
        s.execute(update(ChatTurn).where(ChatTurn.id.in_(mine)).values(created_at=hour_ago))
    later = chat.view(any_db, people[4], "c")
    assert later.kind == "chat"
    with db.session_scope(any_db, readonly=True) as s:
        states = dict(s.execute(select(Chat.id, Chat.state)).all())
        assert states[views[0].chat_id] == "abandoned"
        assert s.scalar(select(func.count(Context.id))) == 0  # abandoned: never labelled


def test_a_chat_study_worker_gets_the_code_after_their_chat(any_db) -> None:  # type: ignore[no-untyped-def]
    campaign(any_db)
    studies.create_study(any_db, "s", "prolific", 1, chat="c")
    joined = studies.join_study(any_db, "s", {"PROLIFIC_PID": "w1", "STUDY_ID": "x"})
    chat_to(any_db, joined.token, 4)
    done = chat.finish(any_db, joined.token, "c")
    assert done.kind == "finished" and done.code
    again = chat.view(any_db, joined.token, "c")  # a revisit: the same code, no new chat
    assert again.kind == "finished" and again.code == done.code
    with pytest.raises(UserError, match="no gold"):
        studies.create_study(any_db, "s2", "prolific", 1, gold_per_worker=1, chat="c")


def test_a_reported_reply_keeps_its_flag(any_db) -> None:  # type: ignore[no-untyped-def]
    campaign(any_db)
    me = accounts.add_annotator(any_db, "me")
    chat_to(any_db, me, 2)
    chat.report_reply(any_db, me, "c", 1, "offensive")
    assert chat.view(any_db, me, "c").turns[1].flag == "offensive"
    with pytest.raises(UserError, match="not a bot reply"):
        chat.report_reply(any_db, me, "c", 0, "broken")
    with pytest.raises(UserError, match="unknown report"):
        chat.report_reply(any_db, me, "c", 1, "boring")
    with db.session_scope(any_db, readonly=True) as s:
        assert s.scalar(select(func.count(Response.id))) == 0


def test_finished_chats_pair_across_bots_for_a_whole_dialogue_comparison(any_db) -> None:  # type: ignore[no-untyped-def]
    """ACUTE-Eval's comparison: each bot's finished chats matched one to one across bots;
    a rater sees both conversations as stored, never a pair holding a chat of their own."""
    from evaltool.annotation.pairing import build_chat_pairs
    from evaltool.storage.project import save_settings
    from evaltool.storage.schema import Annotator, PairItem, PairLabel

    campaign(any_db, bots=("baseline:echo", "baseline:generic"))
    people = [accounts.add_annotator(any_db, f"p{i}") for i in range(4)]
    for person in people:
        chat_to(any_db, person, 4)
        assert chat.finish(any_db, person, "c").kind == "finished"
    built = build_chat_pairs(any_db, "c", None, seed=5)
    assert (built.added, built.kept, built.design) == (2, 0, "chats")
    assert build_chat_pairs(any_db, "c", None, seed=5).kept == 2  # a rerun adds nothing
    with db.session_scope(any_db) as s:
        save_settings(s, task="pairs", overlap=2, gold_rate=0.0)
        owner = dict(s.execute(select(Chat.id, Chat.annotator_id)).all())
        turns = select(ChatTurn.chat_id, ChatTurn.text).order_by(ChatTurn.position)
        texts: dict[int, list[str]] = {}
        for chat_id, text in s.execute(turns):
            texts.setdefault(chat_id, []).append(text)
        items = {i.id: (i.chat_a, i.chat_b, i.a_left) for i in s.scalars(select(PairItem))}
    names = [f"p{i}" for i in range(4)]
    for who, token in [*zip(names, people, strict=True), ("rater", None)]:
        token = token or accounts.add_annotator(any_db, "rater")
        view, seen = flow.view(any_db, token), []
        while view.kind == "task":
            chat_a, chat_b, a_left = items[view.task.item_id]
            assert view.task.conversation and view.task.turns == []
            shown = (chat_a, chat_b) if a_left else (chat_b, chat_a)
            assert (view.task.left, view.task.right) == tuple(texts[c] for c in shown)
            seen.append((chat_a, chat_b))
            view = flow.choose(any_db, token, view.task.item_id, "left")
        with db.session_scope(any_db, readonly=True) as s:
            me = s.scalar(select(Annotator.id).where(Annotator.name == who))
        assert all(me not in (owner[a], owner[b]) for a, b in seen), who
        if who == "rater":
            assert len(seen) == 0  # two answers each from the chatters already: k reached
    with db.session_scope(any_db, readonly=True) as s:
        per_pair = s.execute(select(PairLabel.pair_id, func.count()).group_by(PairLabel.pair_id))
        assert sorted(n for _, n in per_pair) == [2, 2]
