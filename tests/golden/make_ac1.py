"""Write golden values of Gwet's AC1 computed by the irrCAC package itself.

irrCAC 0.4.4 pins pandas < 3 and scipy 1.12, which the locked environment cannot hold, so it
runs in a venv of its own (``make golden-ac1`` builds ``.venv-irrcac``) and its answers are
committed to ``tests/data/golden/ac1.json``; ``tests/test_stats.py`` checks evaltool's
``gwet_ac1`` against them. The rating tables are items x raters of 0/1 with gaps (NaN), as
evaltool's labels are: skewed, balanced, unanimous, sparse, and one with single-rated items.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from irrCAC.raw import CAC

OUT = Path(__file__).resolve().parents[1] / "data" / "golden" / "ac1.json"


def table(seed: int, items: int, raters: int, yes: float, agree: float, per_item: int) -> list:
    """Items x raters of 0/1, ``per_item`` raters per item (the rest NaN)."""
    rng = np.random.default_rng(seed)
    truth = rng.random(items) < yes
    out = np.full((items, raters), np.nan)
    for i in range(items):
        who = rng.choice(raters, size=per_item, replace=False)
        right = rng.random(per_item) < agree
        out[i, who] = np.where(right, truth[i], ~truth[i]).astype(float)
    return out.tolist()


CASES = {
    "skewed": table(1, 60, 3, 0.95, 0.95, 3),
    "balanced": table(2, 80, 5, 0.5, 0.8, 3),
    "noisy": table(3, 40, 4, 0.4, 0.6, 4),
    "sparse": table(4, 120, 12, 0.7, 0.85, 3),
    "two-raters": table(5, 50, 2, 0.3, 0.9, 2),
    "unanimous-but-one": [[1.0, 1.0, 1.0]] * 29 + [[1.0, 0.0, 1.0]],
    "single-rated-items": table(6, 30, 3, 0.6, 0.8, 3) + [[1.0, np.nan, np.nan]] * 5,
}


def main() -> None:
    results = {}
    for name, rows in CASES.items():
        est = CAC(pd.DataFrame(rows), categories=[0.0, 1.0], digits=12).gwet()["est"]
        low, high = est["confidence_interval"]
        results[name] = {
            "ratings": [[None if np.isnan(v) else int(v) for v in r] for r in rows],
            "ac1": est["coefficient_value"],
            "se": est["se"],
            "ci": [low, high],
            "pa": est["pa"],
            "pe": est["pe"],
        }
    doc = {"about": "irrCAC 0.4.4 CAC(...).gwet(); make golden-ac1", "cases": results}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{OUT}: {len(results)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
