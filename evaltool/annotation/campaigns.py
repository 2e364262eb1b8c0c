"""Chat campaigns, the admin's side: their rules, making one with its bots (registered
systems) and its own dataset of bot turns, and how far each bot is from its quota."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evaltool.annotation.chat import MAX_CHARS
from evaltool.errors import UserError
from evaltool.storage.chats import get_campaign
from evaltool.storage.db import session_scope
from evaltool.storage.schema import (
    CHAT_STATES,
    Chat,
    ChatBot,
    ChatCampaign,
    Dataset,
    System,
    check_name,
)


@dataclass(frozen=True)
class Rules:
    """A campaign's numbers, checked before anything is stored."""

    conversations: int = 100
    min_turns: int = 14
    max_turns: int = 28
    opening: str = "Привет!"
    max_chars: int = MAX_CHARS

    def check(self) -> Rules:
        """Self, or a user error naming the first bad number."""
        for field, ok, what in (
            ("conversations", self.conversations >= 1, "at least 1"),
            ("min_turns", self.min_turns >= 2, "at least 2 (the opening and one reply)"),
            ("max_turns", self.max_turns >= self.min_turns, "at least {min_turns}"),
            ("max_chars", self.max_chars >= 1, "at least 1"),
            ("opening", bool(self.opening.strip()), "not blank"),
        ):
            if not ok:
                named = ("min_turns",) if "{" in what else ()
                raise UserError(f"must be {what}", field=field, settings=named)
        return self


def create_campaign(
    s: Session, name: str, system_ids: list[int], specs: list[dict], rules: Rules
) -> ChatCampaign:
    """A new campaign with its bots (registered systems) and its own dataset of bot turns."""
    name = check_name("chat campaign", name, field="name")
    rules.check()
    if s.scalars(select(ChatCampaign).where(ChatCampaign.name == name)).first() is not None:
        raise UserError(f"chat campaign {name!r} exists; give another name")
    if s.scalars(select(Dataset).where(Dataset.name == name)).first() is not None:
        raise UserError(f"a dataset is named {name!r}; give the campaign another name")
    dataset = Dataset(name=name)
    s.add(dataset)
    s.flush()
    row = ChatCampaign(
        name=name,
        dataset_id=dataset.id,
        conversations=rules.conversations,
        min_turns=rules.min_turns,
        max_turns=rules.max_turns,
        opening=rules.opening.strip(),
        max_chars=rules.max_chars,
    )
    s.add(row)
    s.flush()
    s.add_all(
        ChatBot(campaign_id=row.id, system_id=sid, spec=spec)
        for sid, spec in zip(system_ids, specs, strict=True)
    )
    s.flush()
    return row


def bot_names(s: Session, campaign: str) -> list[str]:
    """The names of the campaign's bots (their systems), in the order they were added."""
    camp = get_campaign(s, campaign)
    query = (
        select(System.name)
        .join(ChatBot, ChatBot.system_id == System.id)
        .where(ChatBot.campaign_id == camp.id)
        .order_by(ChatBot.id)
    )
    return list(s.scalars(query))


def overview(engine: Engine) -> list[tuple[str, str, int, int, int, int]]:
    """Per campaign and bot: chats finished, open and abandoned, and the quota."""
    count = {state: func.count(Chat.id).filter(Chat.state == state) for state in CHAT_STATES}
    query = (
        select(ChatCampaign.name, System.name, *count.values(), ChatCampaign.conversations)
        .join(ChatBot, ChatBot.campaign_id == ChatCampaign.id)
        .join(System, System.id == ChatBot.system_id)
        .outerjoin(Chat, Chat.bot_id == ChatBot.id)
        .group_by(ChatCampaign.id, ChatCampaign.name, System.name, ChatBot.id)
        .order_by(ChatCampaign.name, ChatBot.id)
    )
    with session_scope(engine, readonly=True) as s:
        rows = s.execute(query).all()
    return [(c, b, f, o, a, q) for c, b, o, f, a, q in rows]
