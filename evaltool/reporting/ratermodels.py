"""Rater models: item answers estimated from who said what, instead of a plain majority.

Dawid-Skene learns each rater's confusion matrix; MACE learns how often each rater answers at
random (a spammer). Both come from crowd-kit (Apache-2.0), an optional extra:
``pip install "evaltool[crowd]"``. Each question is modelled on its own; an item the model
does not call sensible is not specific, as under majority vote.
"""

from __future__ import annotations

import pandas as pd

from evaltool.errors import UserError
from evaltool.reporting.choices import AGGREGATORS

ITERATIONS = 100
# MACE's EM restarts from random points; three restarts of 50 steps find what ten of 100 do
# on the tests' data, in a seventh of the time.
MACE_RESTARTS, MACE_ITERATIONS = 3, 50


def _crowdkit():  # type: ignore[no-untyped-def]
    try:
        from crowdkit import aggregation
    except ImportError:
        raise UserError(
            "rater models need crowd-kit: pip install 'evaltool[crowd]'", field="aggregate"
        ) from None
    return aggregation


def _model(method: str):  # type: ignore[no-untyped-def]
    agg = _crowdkit()
    if method == "dawid-skene":
        return agg.DawidSkene(n_iter=ITERATIONS)
    return agg.MACE(n_iter=MACE_ITERATIONS, n_restarts=MACE_RESTARTS, random_state=0)


def _answers(labels: pd.DataFrame, question: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": labels["response_id"],
            "worker": labels["annotator_id"],
            "label": labels[question].astype(int),
        }
    )


def model_votes(labels: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per item (response_id): ``sensible`` and ``specific`` as the rater model estimates them."""
    if method not in AGGREGATORS[1:]:
        raise UserError(f"{method!r}: use {', '.join(AGGREGATORS)}", field="aggregate")
    votes = {}
    for question in ("sensible", "specific"):
        answers = _answers(labels, question)
        if answers["label"].nunique() < 2:  # one answer everywhere: nothing to model
            votes[question] = answers.groupby("task")["label"].first().astype(bool)
        else:
            votes[question] = _model(method).fit_predict(answers).astype(bool)
    out = pd.DataFrame(votes)
    out["specific"] &= out["sensible"]
    return out.rename_axis("response_id").reset_index()


def rater_accuracy(labels: pd.DataFrame, method: str = "dawid-skene") -> pd.Series:
    """Each rater's estimated accuracy on the sensible question, by annotator_id: Dawid-Skene's
    chance of a right answer (its confusion matrix weighted by the estimated classes), or
    MACE's chance of not answering at random."""
    answers = _answers(labels, "sensible")
    if answers.empty or answers["label"].nunique() < 2:
        return pd.Series(dtype=float)
    model = _model(method).fit(answers)
    if method == "mace":
        workers = pd.factorize(answers["worker"])[1]  # MACE's own order of workers
        return pd.Series(model.spamming_[:, 1], index=workers).sort_index().round(3)
    errors = model.errors_  # (worker, observed) x true: P(observed | true)
    priors = model.priors_
    right = sum(
        errors.xs(c, level=1)[c].reindex(errors.index.levels[0], fill_value=0.0) * priors[c]
        for c in priors.index
    )
    return right.round(3)
