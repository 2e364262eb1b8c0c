"""The reference pair whose model cards report SSA: hub ids and the system names they get."""

from __future__ import annotations

REFERENCE_MODELS = ("tinkoff-ai/ruDialoGPT-small", "tinkoff-ai/ruDialoGPT-medium")
# The comparison reports lead with when both are present: medium minus small.
REFERENCE_PAIR = ("ruDialoGPT-medium", "ruDialoGPT-small")
