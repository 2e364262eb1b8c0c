"""The database schema: every table evaltool reads or writes, as SQLAlchemy 2 ORM classes.

Importing this package registers every table with ``Base`` (core, chat, judge and pairwise
modules alike), so callers import tables from here and never from the modules. Timestamps are
naive UTC (``utcnow()``), so SQLite and PostgreSQL compare them alike. Migrations in
``evaltool/storage/migrations`` must match these classes; a test checks that.
"""

from evaltool.storage.schema.base import (
    DRAW_KEYS,
    LEASE_STATES,
    NAME_LENGTH,
    PLATFORMS,
    QUALIFICATION,
    ROLES,
    SYSTEM_KINDS,
    TASK_KINDS,
    Base,
    check_name,
    draw_key,
    utcnow,
)
from evaltool.storage.schema.chat import (
    CHAT_STATES,
    REPLY_FLAGS,
    SPEAKERS,
    TURN_STATES,
    Chat,
    ChatBot,
    ChatCampaign,
    ChatTurn,
)
from evaltool.storage.schema.core import (
    Annotator,
    Assignment,
    Context,
    Dataset,
    GoldItem,
    Label,
    Perplexity,
    PoolItem,
    Response,
    Setting,
    Study,
    System,
    TrainingAnswer,
)
from evaltool.storage.schema.judge import (
    JUDGE_KINDS,
    HumanDraw,
    HumanDrawContext,
    Judge,
    JudgeLabel,
)
from evaltool.storage.schema.pairs import (
    PAIR_DESIGNS,
    SIDES,
    PairAssignment,
    PairItem,
    PairLabel,
    chosen,
)

__all__ = [
    "CHAT_STATES",
    "DRAW_KEYS",
    "JUDGE_KINDS",
    "LEASE_STATES",
    "NAME_LENGTH",
    "PAIR_DESIGNS",
    "PLATFORMS",
    "QUALIFICATION",
    "REPLY_FLAGS",
    "ROLES",
    "SIDES",
    "SPEAKERS",
    "SYSTEM_KINDS",
    "TASK_KINDS",
    "TURN_STATES",
    "Annotator",
    "Assignment",
    "Base",
    "Chat",
    "ChatBot",
    "ChatCampaign",
    "ChatTurn",
    "Context",
    "Dataset",
    "GoldItem",
    "HumanDraw",
    "HumanDrawContext",
    "Judge",
    "JudgeLabel",
    "Label",
    "PairAssignment",
    "PairItem",
    "PairLabel",
    "Perplexity",
    "PoolItem",
    "Response",
    "Setting",
    "Study",
    "System",
    "TrainingAnswer",
    "check_name",
    "chosen",
    "draw_key",
    "utcnow",
]
