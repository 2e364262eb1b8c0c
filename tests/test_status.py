"""``evaltool status``: counts per dataset, system and annotator, items short of labels."""

from __future__ import annotations

from evaltool.storage import db
from evaltool.storage.schema import Annotator, Context, Dataset, GoldItem, Label, Response, System
from evaltool.storage.status import collect_status


def test_status_counts(any_db) -> None:  # type: ignore[no-untyped-def]
    with db.session_scope(any_db) as s:
        ds = Dataset(name="d")
        s.add(ds)
        s.flush()
        ctxs = [Context(dataset_id=ds.id, external_id=f"c{i}", turns=["x"]) for i in range(3)]
        systems = [
            System(name="a", kind="model", settings={"decoding": "card"}),
            System(name="b", kind="baseline"),
        ]
        anns = [Annotator(name=f"r{i}") for i in range(3)]
        s.add_all([*ctxs, *systems, *anns])
        s.flush()
        responses = [
            Response(context_id=c.id, system_id=systems[0].id, rank=r, text="t")
            for c in ctxs
            for r in range(2)
        ]
        s.add_all(responses)
        s.flush()
        first = responses[0]  # rank 0 of c0: gets 3 labels; c1 gets 1
        s.add_all(
            Label(response_id=first.id, annotator_id=a.id, sensible=True, specific=False)
            for a in anns
        )
        s.add(
            Label(
                response_id=responses[2].id, annotator_id=anns[0].id, sensible=False, specific=False
            )
        )
    counts = collect_status(any_db)
    assert counts.overlap == 3
    assert counts.datasets == [("d", 3)]
    assert counts.systems == [("a", "model", "card", 3, 6), ("b", "baseline", "-", 0, 0)]
    assert counts.labels_by_system == [("a", 4, 1, 2)]
    assert counts.labels_by_annotator == [("r0", 2, False), ("r1", 1, False), ("r2", 1, False)]


def test_status_cli_on_empty_database(run_cli) -> None:
    assert run_cli("init").exit_code == 0
    result = run_cli("status")
    assert result.exit_code == 0
    assert "Datasets" in result.output and "Labels per annotator" in result.output


def test_status_and_admin_page_leave_gold_items_out_alike(any_db) -> None:  # type: ignore[no-untyped-def]
    from evaltool.annotation.monitor import progress

    from .conftest import make_pool

    ids = make_pool(any_db, contexts=5, systems=1, ranks=(0,))
    with db.session_scope(any_db) as s:
        s.add(GoldItem(response_id=ids[0], expected_sensible=True, expected_specific=None))
    counts = collect_status(any_db)
    assert counts.gold_items == 1
    assert counts.labels_by_system == [("sys0", 0, 0, 4)]
    admin = progress(any_db).systems.to_dict("records")
    assert admin == [
        {"system": "sys0", "items": 4, "labels": 0, "done": 0, "short": 4, "done_share": 0.0}
    ]
