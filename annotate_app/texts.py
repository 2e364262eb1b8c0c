"""Words on the annotation page, in Russian (default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Оценка ответов чат-бота",
        "login": "Вход",
        "login_help": "Откройте свою личную ссылку или вставьте ключ из неё.",
        "token": "Ключ доступа",
        "enter": "Войти",
        "hello": "Здравствуйте, {name}",
        "progress": "Размечено {done}, осталось {left}",
        "context": "Диалог",
        "response": "Ответ, который нужно оценить",
        "speaker_a": "Собеседник",
        "speaker_b": "Бот",
        "sensible_q": "Осмысленный ли ответ в этом диалоге?",
        "sensible_help": "Логичен, понятен, не противоречит сказанному, по теме, без ошибок в "
        "фактах. Если сомневаетесь — «нет».",
        "specific_q": "Специфичный ли ответ — подходит именно к этому диалогу?",
        "specific_help": "«Нет», если так можно ответить на десятки разных реплик "
        "(«Понятно», «Не знаю», «Интересно»).",
        "yes": "Да",
        "no": "Нет",
        "submit": "Отправить",
        "keys": "Клавиши: 1 — да, 2 — нет (осмысленность); 3 — да, 4 — нет (специфичность); "
        "Enter — отправить.",
        "saved": "Сохранено.",
        "all_done": "Все доступные вам ответы размечены. Спасибо!",
        "instructions": "Инструкция",
        "start": "Понятно, начать",
        "back": "К разметке",
        "admin": "Администрирование",
        "admin_only": "Эта страница доступна только администраторам.",
        "language": "English",
    },
    "en": {
        "title": "Rating chatbot responses",
        "login": "Sign in",
        "login_help": "Open your personal link, or paste the key from it.",
        "token": "Access key",
        "enter": "Sign in",
        "hello": "Hello, {name}",
        "progress": "Labelled {done}, {left} left",
        "context": "Conversation",
        "response": "Response to rate",
        "speaker_a": "Person",
        "speaker_b": "Bot",
        "sensible_q": "Does the response make sense in this conversation?",
        "sensible_help": "Logical, clear, consistent with what was said, on topic, no factual "
        "errors. When in doubt: no.",
        "specific_q": "Is the response specific to this conversation?",
        "specific_help": "No if it could follow dozens of different messages "
        '("I see", "I don\'t know", "Interesting").',
        "yes": "Yes",
        "no": "No",
        "submit": "Submit",
        "keys": "Keys: 1 yes, 2 no (sensible); 3 yes, 4 no (specific); Enter submits.",
        "saved": "Saved.",
        "all_done": "You have labelled everything available to you. Thank you!",
        "instructions": "Instructions",
        "start": "Got it, start",
        "back": "Back to labelling",
        "admin": "Admin",
        "admin_only": "This page is for admins only.",
        "language": "Русский",
    },
}

INSTRUCTIONS = {
    "ru": """
Вы увидите начало диалога и ответ бота на последнюю реплику. Ответьте на два вопроса.

**1. Осмысленный ли ответ?** Имеет ли ответ смысл в этом диалоге: логичен, понятен, не
противоречит сказанному раньше, по теме и без ошибок в фактах. Всё непонятное, нелогичное,
не по теме или неверное — «нет». **Если сомневаетесь — «нет».**

**2. Специфичный ли ответ?** Этот вопрос появляется, только если ответ осмысленный. Подходит
ли ответ именно к этому диалогу, или им можно ответить на десятки разных реплик?

Примеры (собеседник: «Я люблю теннис.»):

| ответ бота | осмысленный | специфичный |
|---|---|---|
| «Это здорово.» | да | нет: подходит почти к чему угодно |
| «Я тоже! Обожаю смотреть Уимблдон.» | да | да |
| «Да, борщ лучше варить на говяжьем бульоне.» | нет | — |
| «Не знаю.» | да, если это честный ответ на вопрос; здесь — нет | нет |

Не оценивайте грамматику строже, чем в обычной переписке, и не думайте о том, какая модель
написала ответ: вы этого не узнаете. Время на один ответ — обычно 10–30 секунд.
""",
    "en": """
You will see the start of a conversation and the bot's reply to its last message. Answer two
questions.

**1. Is the response sensible?** Does it make sense in this conversation: logical, clear,
consistent with what was said before, on topic and factually right? Anything confusing,
illogical, off topic or wrong: no. **When in doubt: no.**

**2. Is the response specific?** Asked only when the response is sensible. Does it fit this
conversation in particular, or could it follow dozens of different messages?

Examples (person: "I love tennis."):

| bot's response | sensible | specific |
|---|---|---|
| "That's great." | yes | no: it fits almost anything |
| "Me too! I love watching Wimbledon." | yes | yes |
| "Yes, borscht is best with beef stock." | no | — |
| "I don't know." | yes as an honest answer to a question; here no | no |

Do not judge grammar more strictly than in ordinary chat, and do not guess which model wrote
the response: you will not be told. One response usually takes 10–30 seconds.
""",
}
