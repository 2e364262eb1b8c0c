"""Generation: prompt formats, decoding settings and rules, model engines, the fast GPT-2 loop,
the run loop that fills the database with responses, and baseline systems.

``settings`` and ``prompting`` are torch-free; the rest imports torch and transformers, which
no other part of evaltool does.
"""
