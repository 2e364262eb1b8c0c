"""``evaltool status``: counts per dataset, system and annotator, items short of labels."""

from __future__ import annotations

from evaltool.storage import db
from evaltool.storage.schema import Annotator, Context, Dataset, Label, Response, System
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
    st = collect_status(any_db)
    assert st.overlap == 3
    assert st.datasets == [("d", 3)]
    assert st.systems == [("a", "model", "card", 3, 6), ("b", "baseline", "-", 0, 0)]
    assert st.labels_by_system == [("a", 4, 1, 2)]
    assert st.labels_by_annotator == [("r0", 2, False), ("r1", 1, False), ("r2", 1, False)]


def test_status_cli_on_empty_database(run_cli) -> None:
    assert run_cli("init").exit_code == 0
    result = run_cli("status")
    assert result.exit_code == 0
    assert "Datasets" in result.output and "Labels per annotator" in result.output
