"""Meena's interactive mode, the people's side: campaigns, chats and their rules, one call per
action like ``flow``. Bots answer in their own processes (``generation.chatbots``).

A new chat goes blind to the bot furthest from its quota and opens with the campaign's opening
line as the human's first turn; each human turn is stored with the pending bot turn after it.
The human may finish from ``min_turns`` turns on and must at ``max_turns``; a finished chat's
bot turns become items of the pool, each with the chat up to it as its context. A chat left
below the minimum is abandoned: kept, never labelled, and its slot goes back to the quota.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evaltool.annotation import studies
from evaltool.annotation.accounts import authenticate
from evaltool.errors import UserError
from evaltool.storage.chats import get_campaign, turns_of
from evaltool.storage.db import as_engine, retried, session_scope
from evaltool.storage.schema import (
    REPLY_FLAGS,
    Annotator,
    Chat,
    ChatBot,
    ChatCampaign,
    ChatTurn,
    Context,
    Response,
    Study,
    utcnow,
)

POLL = 0.05  # seconds between looks for a pending reply while a page waits for it
IDLE = timedelta(minutes=30)  # an open chat untouched this long is abandoned
MAX_CHARS = 1000  # a human turn's length limit unless the campaign sets one
_rng = random.SystemRandom()


@dataclass(frozen=True)
class Turn:
    """One turn as the page shows it; ``text`` is None while the bot's reply is pending."""

    position: int
    speaker: str
    text: str | None
    flag: str | None = None


@dataclass(frozen=True)
class ChatView:
    """One screen of the chat page: the chat (``kind`` chat), its end, or why there is none."""

    kind: str  # chat | finished | full
    chat_id: int | None = None
    turns: tuple[Turn, ...] = ()
    waiting: float | None = None  # seconds the pending bot turn has waited, None if none
    can_finish: bool = False
    must_finish: bool = False
    max_chars: int = MAX_CHARS
    min_turns: int = 0
    max_turns: int = 0
    code: str | None = None
    finish: dict[str, Any] | None = None  # the platform's way back, with the code


def study_campaign(db: str | Engine | None, token: str | None) -> str | None:
    """The chat campaign whose study the person came from, if any (the page opens the chat)."""
    with session_scope(as_engine(db), readonly=True) as s:
        me = authenticate(s, token)
        study = s.get(Study, me.study_id) if me.study_id is not None else None
        if study is None or study.chat_campaign_id is None:
            return None
        return s.scalar(select(ChatCampaign.name).where(ChatCampaign.id == study.chat_campaign_id))


def view(db: str | Engine | None, token: str | None, campaign: str, wait: float = 0.0) -> ChatView:
    """The person's chat in this campaign (a new one when they have none open). With ``wait``
    and a reply pending, look again every ``POLL`` seconds for up to ``wait`` seconds, so the
    page shows a reply about as soon as a bot process stores it."""

    def run() -> ChatView:
        with session_scope(as_engine(db)) as s:
            me, camp = authenticate(s, token), get_campaign(s, campaign)
            chat = _open_chat(s, me, camp) or _start(s, me, camp)
            return _show(s, me, camp, chat)

    shown = retried(run)
    deadline = time.monotonic() + wait
    while shown.waiting is not None and time.monotonic() < deadline:
        time.sleep(POLL)
        if _answered(as_engine(db), shown.chat_id, shown.turns[-1].position):
            return retried(run)
    return shown


def _answered(engine: Engine, chat_id: int | None, position: int) -> bool:
    query = select(ChatTurn.state).where(ChatTurn.chat_id == chat_id, ChatTurn.position == position)
    with session_scope(engine, readonly=True) as s:
        return s.scalar(query) == "answered"


def send(db: str | Engine | None, token: str | None, campaign: str, text: str) -> ChatView:
    """Store the human's turn and the pending bot turn after it; the page then waits."""

    def run() -> ChatView:
        with session_scope(as_engine(db)) as s:
            me, camp = authenticate(s, token), get_campaign(s, campaign)
            chat = _open_chat(s, me, camp)
            if chat is None:
                raise UserError("this chat has ended; reload the page")
            turns = turns_of(s, chat.id)
            said = _check_turn(camp, turns, text)
            at = len(turns)
            s.add(ChatTurn(chat_id=chat.id, position=at, speaker="human", text=said))
            s.add(ChatTurn(chat_id=chat.id, position=at + 1, speaker="bot", state="pending"))
            s.flush()
            return _show(s, me, camp, chat)

    return retried(run)


def _check_turn(camp: ChatCampaign, turns: list[ChatTurn], text: str) -> str:
    said = (text or "").strip()
    if turns and turns[-1].state == "pending":
        raise UserError("wait for the reply before you write again")
    if not said:
        raise UserError("write something first: the message is empty")
    if len(said) > camp.max_chars:
        raise UserError(f"the message is {len(said)} characters; at most {camp.max_chars} fit")
    if len(turns) + 2 > camp.max_turns:
        raise UserError("the chat has reached its length: finish it")
    return said


def finish(db: str | Engine | None, token: str | None, campaign: str) -> ChatView:
    """End the chat from the minimum number of turns on: its bot turns join the pool."""

    def run() -> ChatView:
        with session_scope(as_engine(db)) as s:
            me, camp = authenticate(s, token), get_campaign(s, campaign)
            chat = _open_chat(s, me, camp)
            if chat is None:
                return _show(s, me, camp, None)
            turns = turns_of(s, chat.id)
            if not _can_finish(camp, turns):
                raise UserError(f"keep chatting: a chat needs at least {camp.min_turns} turns")
            chat.state, chat.ended_at = "finished", utcnow()
            _enrol(s, camp, chat, turns)
            return _show(s, me, camp, None)

    return retried(run)


def report_reply(
    db: str | Engine | None, token: str | None, campaign: str, position: int, flag: str
) -> None:
    """Store the person's report of a bot reply of their open chat (offensive, broken)."""
    if flag not in REPLY_FLAGS:
        raise UserError(f"unknown report {flag!r}; use one of {', '.join(REPLY_FLAGS)}")
    with session_scope(as_engine(db)) as s:
        me, camp = authenticate(s, token), get_campaign(s, campaign)
        chat = _open_chat(s, me, camp)
        turn = (
            next((t for t in turns_of(s, chat.id) if t.position == position), None)
            if chat
            else None
        )
        if turn is None or turn.speaker != "bot" or turn.state != "answered":
            raise UserError("that reply cannot be reported: it is not a bot reply of your chat")
        turn.flag = flag


def abandon_idle(s: Session, camp: ChatCampaign) -> int:
    """Abandon the campaign's open chats untouched for ``IDLE`` that cannot be finished (below
    the minimum); the ones that can are finished as they stand. Returns how many ended."""
    cutoff = utcnow() - IDLE
    last = select(func.max(ChatTurn.created_at)).where(ChatTurn.chat_id == Chat.id)
    stale = s.scalars(
        select(Chat)
        .join(ChatBot, ChatBot.id == Chat.bot_id)
        .where(
            ChatBot.campaign_id == camp.id, Chat.state == "open", last.scalar_subquery() < cutoff
        )
    ).all()
    for chat in stale:
        turns = turns_of(s, chat.id)
        chat.ended_at = utcnow()
        if _can_finish(camp, turns):
            chat.state = "finished"
            _enrol(s, camp, chat, turns)
        else:
            chat.state = "abandoned"
    return len(stale)


def _open_chat(s: Session, me: Annotator, camp: ChatCampaign) -> Chat | None:
    return s.scalars(
        select(Chat)
        .join(ChatBot, ChatBot.id == Chat.bot_id)
        .where(Chat.annotator_id == me.id, Chat.state == "open", ChatBot.campaign_id == camp.id)
    ).first()


def _start(s: Session, me: Annotator, camp: ChatCampaign) -> Chat | None:
    """A new chat with the bot furthest from its quota (finished and open chats hold a slot),
    or None when every bot has its chats or the person has done theirs."""
    if _chats_owed(s, me, camp) <= 0 or not camp.open:
        return None
    abandon_idle(s, camp)
    held = (
        select(ChatBot.id, func.count(Chat.id))
        .outerjoin(Chat, (Chat.bot_id == ChatBot.id) & Chat.state.in_(("open", "finished")))
        .where(ChatBot.campaign_id == camp.id)
        .group_by(ChatBot.id)
    )
    room = {bot: camp.conversations - n for bot, n in s.execute(held)}
    most = max(room.values(), default=0)
    if most <= 0:
        return None
    bot = _rng.choice(sorted(b for b, r in room.items() if r == most))
    chat = Chat(bot_id=bot, annotator_id=me.id)
    s.add(chat)
    s.flush()
    s.add(ChatTurn(chat_id=chat.id, position=0, speaker="human", text=camp.opening))
    s.add(ChatTurn(chat_id=chat.id, position=1, speaker="bot", state="pending"))
    s.flush()
    return chat


def _study(s: Session, me: Annotator, camp: ChatCampaign) -> Study | None:
    """The person's study when it is a study of this campaign."""
    study = s.get(Study, me.study_id) if me.study_id is not None else None
    return study if study is not None and study.chat_campaign_id == camp.id else None


def _chats_owed(s: Session, me: Annotator, camp: ChatCampaign) -> int:
    """How many more chats this person may start: a study worker their study's number, anyone
    else as many as the bots' quotas allow."""
    study = _study(s, me, camp)
    return 1 if study is None else study.items_per_worker - _finished(s, me, camp)


def _finished(s: Session, me: Annotator, camp: ChatCampaign) -> int:
    return (
        s.scalar(
            select(func.count(Chat.id))
            .join(ChatBot, ChatBot.id == Chat.bot_id)
            .where(
                Chat.annotator_id == me.id, Chat.state == "finished", ChatBot.campaign_id == camp.id
            )
        )
        or 0
    )


def _can_finish(camp: ChatCampaign, turns: list[ChatTurn]) -> bool:
    return len(turns) >= camp.min_turns and turns[-1].state == "answered"


def _enrol(s: Session, camp: ChatCampaign, chat: Chat, turns: list[ChatTurn]) -> None:
    """Each answered bot turn becomes a context of the campaign's dataset (the chat before it)
    answered by the bot's system, every candidate a response and the shown one rank 0."""
    system_id = s.scalar(select(ChatBot.system_id).where(ChatBot.id == chat.bot_id))
    for turn in turns:
        if turn.speaker != "bot" or turn.state != "answered":
            continue
        before = [t.text or "" for t in turns if t.position < turn.position]
        ctx = Context(
            dataset_id=camp.dataset_id, external_id=f"chat{chat.id}-{turn.position}", turns=before
        )
        s.add(ctx)
        s.flush()
        responses = [
            Response(
                context_id=ctx.id,
                system_id=system_id,
                rank=rank,
                text=c["text"],
                meta=c.get("meta", {}),
            )
            for rank, c in enumerate(turn.candidates)
        ]
        s.add_all(responses)
        s.flush()
        turn.response_id = responses[0].id


def _show(s: Session, me: Annotator, camp: ChatCampaign, chat: Chat | None) -> ChatView:
    if chat is None:
        done, study = _finished(s, me, camp), _study(s, me, camp)
        code = studies.finish_if_done(s, me, done) if study else None
        back = studies.return_link(study, me) if study and code else None
        return ChatView("finished" if done else "full", code=code, finish=back)
    turns = turns_of(s, chat.id)
    pending = turns[-1] if turns[-1].state == "pending" else None
    waited = (utcnow() - pending.created_at).total_seconds() if pending else None
    shown = tuple(Turn(t.position, t.speaker, t.text, t.flag) for t in turns)
    can = _can_finish(camp, turns)
    return ChatView(
        "chat",
        chat.id,
        shown,
        waited,
        can_finish=can,
        must_finish=can and len(turns) + 2 > camp.max_turns,
        max_chars=camp.max_chars,
        min_turns=camp.min_turns,
        max_turns=camp.max_turns,
    )
