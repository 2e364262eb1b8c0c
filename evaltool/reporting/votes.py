"""The one vote rule: an item is sensible (specific) when more than half of its labels say so,
a tie is no, and an item not voted sensible is not specific (docs/protocol.md). Pure functions
on numbers or numpy arrays; ``annotation.pool`` writes ``decided`` as SQL for adaptive overlap,
and a test checks that the two agree on every vote pattern up to k = 7."""

from __future__ import annotations

from typing import Any

import numpy as np


def majority(yes: Any, n: Any) -> Any:
    """True where more than half of ``n`` labels said yes; a tie is no.

    >>> majority(np.array([2, 1, 2, 0]), np.array([3, 2, 4, 1])).tolist()
    [True, False, False, False]
    """
    return 2 * np.asarray(yes) > np.asarray(n)


def item_votes(n_sensible: Any, n_specific: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    """Item-level (sensible, specific) votes; an item not voted sensible is not specific.

    >>> s, p = item_votes(np.array([1, 3]), np.array([1, 2]), np.array([3, 3]))
    >>> s.tolist(), p.tolist()
    ([False, True], [False, True])
    """
    sensible = majority(n_sensible, n)
    return sensible, sensible & majority(n_specific, n)


def decided(yes_sensible: Any, yes_specific: Any, labels: Any, k: int) -> Any:
    """Whether no further label (up to k) can change an item's majority on either question.

    With k = 3, two agreeing labels decide an item.

    >>> decided(0, 0, 2, 3), decided(2, 2, 2, 3), decided(2, 1, 2, 3), decided(1, 0, 2, 3)
    (True, True, False, False)
    """
    left = k - np.asarray(labels)
    ys, yp = np.asarray(yes_sensible), np.asarray(yes_specific)
    sensible = majority(ys, k) | ~majority(ys + left, k)
    specific = majority(yp, k) | ~majority(yp + left, k)
    result = sensible & specific
    return bool(result) if np.ndim(result) == 0 else result
