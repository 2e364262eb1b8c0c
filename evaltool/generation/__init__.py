"""Generation: one ``Responder`` interface (``responder``) with a registry of backends
(``backends``: local models, OpenAI-compatible endpoints, baselines), the one loop that fills
the database with responses (``loop``), prompt formats, decoding settings and rules, local
models and decoders (``models``, the fast GPT-2 loop in ``fastloop``), and perplexity.

``responder``, ``backends``, ``loop``, ``settings``, ``prompting``, ``served``, ``openai_api`` and
``baselines`` are torch-free; the rest imports torch and transformers, which no other part of
evaltool does.
"""
