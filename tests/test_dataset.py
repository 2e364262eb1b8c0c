"""The Russian validation set shipped in the package."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from evaltool.storage import db
from evaltool.storage.contexts import BUILTIN_DATASET, builtin_path, read_contexts
from evaltool.storage.schema import Context

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def test_shape_of_shipped_set() -> None:
    rows = read_contexts(builtin_path())
    assert len(rows) >= 300
    shares = Counter(len(r.turns) for r in rows)
    assert set(shares) == {1, 2, 3}
    assert abs(shares[1] / len(rows) - 0.20) < 0.03
    assert abs(shares[2] / len(rows) - 0.35) < 0.03
    assert abs(shares[3] / len(rows) - 0.45) < 0.03
    assert len({r.external_id for r in rows}) == len(rows)
    assert len({tuple(r.turns) for r in rows}) == len(rows), "duplicate contexts"
    for r in rows:
        texts = [*r.turns, r.reference or ""]
        assert all(t.strip() for t in texts), r.external_id
        assert all(CYRILLIC.search(t) for t in texts[:-1]), r.external_id
        assert r.reference and CYRILLIC.search(r.reference), r.external_id


def test_consistency_probes_present() -> None:
    rows = read_contexts(builtin_path())
    probes = [r for r in rows if r.turns[0] == "Ты любишь кино?" and len(r.turns) == 3]
    assert len(probes) >= 2


def test_builtin_import_via_cli(run_cli, tmp_path) -> None:
    assert run_cli("init").exit_code == 0
    result = run_cli("contexts", "import", "--builtin")
    assert result.exit_code == 0, result.output
    assert f"{BUILTIN_DATASET}: added 300 contexts" in result.output
    again = run_cli("contexts", "import", "--builtin")
    assert "nothing new" in again.output
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count(Context.id))) == 300
