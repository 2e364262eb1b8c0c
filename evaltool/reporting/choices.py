"""The report's lists of choices, in one light module the CLI reads its options from."""

from __future__ import annotations

# Interval methods for rates and differences (docs/protocol.md, Uncertainty).
INTERVAL_METHODS = ("score", "bca", "percentile")
# How an item's labels become its vote: the majority, or a rater model (needs crowd-kit).
AGGREGATORS = ("majority", "dawid-skene", "mace")
# Licenses an exported dataset's card can state (the Hub's identifiers).
LICENSES = ("cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0", "odc-by", "mit", "other")
