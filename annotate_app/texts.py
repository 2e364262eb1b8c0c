"""Words on the annotation page, in Russian (default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "login": "Вход",
        "login_help": "Откройте свою личную ссылку или вставьте ключ из неё.",
        "token": "Ключ доступа",
        "enter": "Войти",
        "progress": "Размечено: {done}",
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
        "all_done": "Все доступные вам ответы размечены. Спасибо!",
        "instructions": "Инструкция",
        "start": "Понятно, начать",
        "back": "К разметке",
        "admin": "Администрирование",
        "admin_only": "Эта страница доступна только администраторам.",
        "language": "English",
        "training": "Обучение: пример {i} из {n}",
        "progress_label": "Сколько ответов уже оценено",
        "undo": "Отменить последний ответ",
        "skip": "Не могу оценить",
        "skip_reason": "Почему нельзя оценить этот ответ",
        "skip_confirm": "Пропустить",
        "reason_cannot_judge": "Не могу судить",
        "reason_text_is_broken": "Текст испорчен",
        "reason_offensive": "Оскорбительный текст",
        "reason_other": "Другое",
        "continue": "Дальше",
        "feedback_title": "Разбор примера",
        "feedback_right": "Верно.",
        "feedback_wrong": "Не совсем.",
        "code_intro": "Готово, спасибо! Ваш код завершения:",
        "return_link": "Вернуться на платформу",
        "finished_title": "Задание выполнено",
        "all_done_title": "Пока всё",
        "stopped_title": "Разметка остановлена",
        "stopped_paused": "Ваши ответы на проверочные примеры часто расходились с правильными, "
        "поэтому разметка для вас приостановлена. Напишите администратору проекта.",
        "stopped_failed_qualification": "Спасибо за участие! Обучающие примеры показали, что это "
        "задание вам не подходит; ваши ответы не попадут в результаты.",
        "study_error": "Не удалось начать",
        "other_lang": "en",
    },
    "en": {
        "login": "Sign in",
        "login_help": "Open your personal link, or paste the key from it.",
        "token": "Access key",
        "enter": "Sign in",
        "progress": "Labelled: {done}",
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
        "all_done": "You have labelled everything available to you. Thank you!",
        "instructions": "Instructions",
        "start": "Got it, start",
        "back": "Back to labelling",
        "admin": "Admin",
        "admin_only": "This page is for admins only.",
        "language": "Русский",
        "training": "Training: example {i} of {n}",
        "progress_label": "Responses rated so far",
        "undo": "Undo last answer",
        "skip": "Can't judge",
        "skip_reason": "Why this response cannot be judged",
        "skip_confirm": "Skip",
        "reason_cannot_judge": "I can't tell",
        "reason_text_is_broken": "The text is broken",
        "reason_offensive": "Offensive text",
        "reason_other": "Other",
        "continue": "Next",
        "feedback_title": "How this example is judged",
        "feedback_right": "Right.",
        "feedback_wrong": "Not quite.",
        "code_intro": "Done, thank you! Your completion code:",
        "return_link": "Back to the platform",
        "finished_title": "Task complete",
        "all_done_title": "That's all for now",
        "stopped_title": "Labelling stopped",
        "stopped_paused": "Your answers on check items often differed from the right ones, so "
        "labelling is paused for you. Please write to the project admin.",
        "stopped_failed_qualification": "Thank you for taking part! The training examples showed "
        "that this task is not a fit; your answers will not be used.",
        "study_error": "Could not start",
        "other_lang": "ru",
    },
}

# The words of a pairwise task (ACUTE-Eval, Chatbot Arena), drawn beside the SSA ones.
PAIR: dict[str, dict[str, str]] = {
    "ru": {
        "pair_q": "Какой ответ осмысленнее и конкретнее в этом диалоге?",
        "pair_q_chats": "С каким собеседником вы бы предпочли поговорить подольше?",
        "pair_left": "Ответ A",
        "pair_right": "Ответ B",
        "pair_left_chat": "Разговор A",
        "pair_right_chat": "Разговор B",
        "pair_a": "Лучше A",
        "pair_b": "Лучше B",
        "pair_tie": "Одинаково",
        "pair_reason": "Почему? (необязательно, коротко)",
        "pair_keys": "Клавиши: A или 1 — лучше A, B или 2 — лучше B, T или 3 — одинаково; "
        "Enter — отправить.",
        "pair_expected": "Правильный ответ:",
    },
    "en": {
        "pair_q": "Which reply is more sensible and specific in this conversation?",
        "pair_q_chats": "Who would you rather talk to for a long conversation?",
        "pair_left": "Reply A",
        "pair_right": "Reply B",
        "pair_left_chat": "Conversation A",
        "pair_right_chat": "Conversation B",
        "pair_a": "A is better",
        "pair_b": "B is better",
        "pair_tie": "Tie",
        "pair_reason": "Why? (optional, short)",
        "pair_keys": "Keys: A or 1 for A, B or 2 for B, T or 3 for a tie; Enter submits.",
        "pair_expected": "The right answer:",
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

ADMIN = {
    "ru": {
        "title": "Администрирование",
        "back": "К разметке",
        "systems": "Прогресс по системам",
        "studies": "Исследования",
        "open": "открыто",
        "closed": "закрыто",
        "study_line": "{name} ({state}): закончили {finished} из {goal} исполнителей",
        "per_worker": "примеров на исполнителя",
        "eta": "Осталось примерно {hours} ч при нынешнем темпе ({rate} ответов за час).",
        "eta_done": "Все примеры размечены.",
        "eta_unknown": "За последний час ответов не было: срок не оценить.",
        "interim": "Промежуточная таблица SSA",
        "interim_note": "Промежуточные данные: разметка не закончена. Доверительные интервалы — "
        "95%, score-интервалы по контекстам.",
        "system": "система",
        "items": "примеров",
        "interval": "интервал",
        "annotators": "Разметчики",
        "look_at": "Выделены помеченные проверкой и слишком быстрые (медиана меньше {seconds} с).",
        "disable": "Отключить разметчика",
        "estimate": "Оценить точность каждого разметчика (модель Дэвида-Скина, читает все метки)",
        "new": "Новые ссылки",
        "name": "Имя",
        "is_admin": "Администратор",
        "make_link": "Создать личную ссылку",
        "shown_once": "Ссылка показывается один раз.",
        "study_name": "Название исследования",
        "platform": "Платформа",
        "gold_per_worker": "Проверочных на исполнителя",
        "qualification": "Обучающих примеров",
        "make_study": "Создать исследование",
        "download": "Скачать ответы (CSV)",
    },
    "en": {
        "title": "Admin",
        "back": "Back to labelling",
        "systems": "Progress per system",
        "studies": "Studies",
        "open": "open",
        "closed": "closed",
        "study_line": "{name} ({state}): {finished} of {goal} workers finished",
        "per_worker": "items per worker",
        "eta": "About {hours} h to go at the current pace ({rate} labels in the last hour).",
        "eta_done": "Every item is labelled.",
        "eta_unknown": "No labels in the last hour: no estimate yet.",
        "interim": "Interim SSA table",
        "interim_note": "Interim: labelling is not finished. 95% score intervals over contexts.",
        "system": "system",
        "items": "items",
        "interval": "interval",
        "annotators": "Annotators",
        "look_at": "Highlighted: flagged by gold checks, or too fast (median under {seconds} s).",
        "disable": "Disable an annotator",
        "estimate": "Estimate each rater's accuracy (Dawid-Skene model, reads every label)",
        "new": "New links",
        "name": "Name",
        "is_admin": "Admin",
        "make_link": "Make a personal link",
        "shown_once": "The link is shown once.",
        "study_name": "Study name",
        "platform": "Platform",
        "gold_per_worker": "Gold items per worker",
        "qualification": "Training items",
        "make_study": "Create the study",
        "download": "Download labels (CSV)",
    },
}

# The chat page (interactive campaigns): the person chats with a bot they are not told.
CHAT = {
    "ru": {
        "chat_intro": "Поговорите с ботом о чём угодно, как с человеком. Пишите коротко и по "
        "одному сообщению; дождитесь ответа. Если ответ оскорбительный или сломанный, "
        "отметьте его.",
        "chat_log": "Переписка",
        "your_message": "Ваше сообщение",
        "send": "Отправить",
        "finish": "Завершить разговор",
        "typing": "Бот печатает…",
        "bot_late": "Бот пока не отвечает. Ваше сообщение сохранено: можно подождать или "
        "вернуться позже по той же ссылке.",
        "you": "Вы",
        "bot": "Бот",
        "report_offensive": "оскорбительно",
        "report_broken": "сломано",
        "reported_offensive": "отмечено: оскорбительно",
        "reported_broken": "отмечено: сломано",
        "keep_going": "Разговор можно завершить после {n} реплик.",
        "may_finish": "Можно завершить разговор или продолжить.",
        "must_finish": "Разговор достиг предельной длины: завершите его.",
        "turns": "Реплик: {n} из {max}",
        "full_title": "Разговоров больше не нужно",
        "full": "Все разговоры уже собраны. Спасибо!",
        "thanks_title": "Спасибо!",
        "thanks": "Разговор сохранён.",
        "again": "Начать новый разговор",
    },
    "en": {
        "chat_intro": "Chat with the bot about anything, as you would with a person. Write "
        "short messages, one at a time, and wait for the reply. Mark a reply that is "
        "offensive or broken.",
        "chat_log": "Conversation",
        "your_message": "Your message",
        "send": "Send",
        "finish": "Finish the conversation",
        "typing": "The bot is typing…",
        "bot_late": "The bot is not answering yet. Your message is saved: wait, or come back "
        "later with the same link.",
        "you": "You",
        "bot": "Bot",
        "report_offensive": "offensive",
        "report_broken": "broken",
        "reported_offensive": "reported: offensive",
        "reported_broken": "reported: broken",
        "keep_going": "You can finish after {n} turns.",
        "may_finish": "You can finish now or keep chatting.",
        "must_finish": "The conversation has reached its length: finish it.",
        "turns": "Turns: {n} of {max}",
        "full_title": "No more conversations needed",
        "full": "Every conversation has been collected. Thank you!",
        "thanks_title": "Thank you!",
        "thanks": "The conversation is saved.",
        "again": "Start a new conversation",
    },
}
