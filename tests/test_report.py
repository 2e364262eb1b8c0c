"""``evaltool report`` and the imports that feed it, end to end through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from evaltool.storage import db
from evaltool.storage.schema import Annotator

CONTEXTS = [{"id": f"c{i}", "turns": [f"реплика {i}"], "reference": f"ответ {i}"} for i in range(6)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture
def project(run_cli, tmp_path: Path) -> Path:
    assert run_cli("init").exit_code == 0
    write_jsonl(tmp_path / "val.jsonl", CONTEXTS)
    assert run_cli("contexts", "import", "val.jsonl").exit_code == 0
    for system in ("medium", "small"):
        rows = [{"context_id": c["id"], "response": f"{system} {c['id']}"} for c in CONTEXTS]
        write_jsonl(tmp_path / f"{system}.jsonl", rows)
        result = run_cli("responses", "import", f"{system}.jsonl", "--system", system)
        assert result.exit_code == 0, result.output
    return tmp_path


# (system, context, annotator) -> (sensible, specific); 3 raters, 6 contexts, 2 systems
def label_rows() -> list[dict]:
    rows = []
    for i in range(6):
        for r in range(3):
            good = not (i == 5 and r < 2)  # medium: c5 voted not sensible (2 of 3 say no)
            rows.append(
                {
                    "context_id": f"c{i}",
                    "system": "medium",
                    "annotator": f"r{r}",
                    "sensible": good,
                    "specific": good and r != 2,
                }
            )
            bad = i < 3 or (i == 3 and r == 0)
            rows.append(
                {
                    "context_id": f"c{i}",
                    "system": "small",
                    "annotator": f"r{r}",
                    "sensible": not bad,
                    "specific": False,
                }
            )
    return rows


def test_labels_import_then_report_writes_four_files(run_cli, project: Path) -> None:
    write_jsonl(project / "labels.jsonl", label_rows())
    result = run_cli("labels", "import", "labels.jsonl")
    assert result.exit_code == 0 and "added 36 labels" in result.output
    assert "already there" in run_cli("labels", "import", "labels.jsonl").output
    result = run_cli("report", "--resamples", "2000")
    assert result.exit_code == 0, result.output
    out = project / "reports" / "val"
    assert sorted(p.name for p in out.iterdir()) == [
        "items.csv",
        "report.json",
        "report.md",
        "ssa.png",
    ]
    rep = json.loads((out / "report.json").read_text())
    assert rep["settings"] == {
        "resamples": 2000,
        "seed": 0,
        "confidence": 0.95,
        "method": "score",
        "min_labels": 3,
        "overlap": 3,
        "aggregate": "majority",
        "compare": None,
        "judge": None,
        "anchor": None,
        "pairs_only": False,
        "adaptive": False,
    }
    medium, small = rep["systems"]
    assert (medium["name"], medium["items"], medium["labels"]) == ("medium", 6, 18)
    # medium: sensible 5/6; specific votes: r0, r1 say yes on c0..c4 -> 5/6
    assert medium["sensibleness"]["estimate"] == pytest.approx(5 / 6)
    assert medium["specificity"]["estimate"] == pytest.approx(5 / 6)
    assert medium["label_level"]["sensibleness"] == pytest.approx(16 / 18)
    assert medium["label_level"]["specificity"] == pytest.approx(10 / 18)
    # small: c0..c2 not sensible, c3 has 2 of 3 yes -> sensible 3/6, specific 0
    assert small["sensibleness"]["estimate"] == pytest.approx(0.5)
    assert small["specificity"]["estimate"] == 0
    for s in rep["systems"]:
        for m in ("sensibleness", "specificity", "ssa"):
            assert set(s[m]) == {"estimate", "ci_low", "ci_high", "interval"}
            assert s[m]["ci_low"] < s[m]["ci_high"]
    (comp,) = rep["comparisons"]
    assert (comp["a"], comp["b"], comp["shared_contexts"]) == ("medium", "small", 6)
    assert comp["ssa"]["difference"] == pytest.approx((5 / 6 + 5 / 6) / 2 - 0.25)
    assert set(comp["ssa"]) == {
        "difference",
        "ci_low",
        "ci_high",
        "interval",
        "p_value",
        "p_holm",
        "share_at_or_below_zero",
    }
    assert rep["agreement"]["sensible"]["items"] == 12
    assert rep["agreement"]["sensible"]["fleiss_kappa"] is not None
    md = (out / "report.md").read_text()
    assert "| medium | imported | - | 6 | 6 | 18 | 0.833 [" in md
    assert medium["decoding"] is None
    assert "**medium minus small** on 6 shared contexts: SSA +0.583" in md
    assert "Krippendorff" in md and "SIMULATED" not in md
    with open(out / "items.csv", encoding="utf-8") as f:
        items = list(csv.DictReader(f))
    assert len(items) == 12 and items[0].keys() >= {"context_id", "system", "sensible"}


def test_report_is_reproducible_with_seed(run_cli, project: Path) -> None:
    write_jsonl(project / "labels.jsonl", label_rows())
    run_cli("labels", "import", "labels.jsonl")
    outs = []
    for name in ("a", "b"):
        assert run_cli("report", "--out", name, "--resamples", "1000").exit_code == 0
        rep = json.loads((project / name / "report.json").read_text())
        rep.pop("generated_at")
        outs.append(rep)
    assert outs[0] == outs[1]


def test_flagged_annotator_and_min_labels_are_excluded(run_cli, project: Path) -> None:
    write_jsonl(project / "labels.jsonl", label_rows())
    run_cli("labels", "import", "labels.jsonl")
    with db.session_scope(db.make_engine(f"sqlite:///{project / 'evaltool.db'}")) as s:
        s.query(Annotator).filter(Annotator.name == "r2").update({"flagged": True})
    assert run_cli("report", "--resamples", "1000", "--min-labels", "2").exit_code == 0
    rep = json.loads((project / "reports" / "val" / "report.json").read_text())
    assert rep["exclusions"]["flagged_annotators"] == ["r2"]
    assert rep["exclusions"]["labels_from_flagged"] == 12
    assert rep["systems"][0]["labels"] == 12
    assert run_cli("report", "--resamples", "1000").exit_code == 0  # default: 3 labels
    rep = json.loads((project / "reports" / "val" / "report.json").read_text())
    assert rep["exclusions"]["items_below_min_labels"] == 12
    assert rep["systems"][0]["ssa"] is None
    assert "no items with enough labels" in (project / "reports/val/report.md").read_text()


def test_edge_cases_say_what_happened(run_cli, project: Path) -> None:
    result = run_cli("report", "--resamples", "1000")  # responses but no labels
    assert result.exit_code == 0
    md = (project / "reports" / "val" / "report.md").read_text()
    assert "no labels yet" in md and "n/a" in md
    one = [r for r in label_rows() if r["context_id"] == "c0" and r["system"] == "medium"]
    write_jsonl(project / "one.jsonl", one)
    run_cli("labels", "import", "one.jsonl")
    assert run_cli("report", "--resamples", "1000").exit_code == 0
    rep = json.loads((project / "reports" / "val" / "report.json").read_text())
    # one context voted sensible: as wide as one observation allows (Wilson for 1 of 1)
    assert rep["systems"][0]["sensibleness"]["ci_low"] == pytest.approx(0.2065, abs=1e-4)
    assert rep["systems"][0]["sensibleness"]["ci_high"] == 1.0
    assert rep["agreement"]["sensible"]["krippendorff_alpha"] is None  # all labels identical
    assert rep["comparisons"] == []


def test_report_on_empty_database_and_bad_settings(run_cli, tmp_path: Path) -> None:
    run_cli("init")
    result = run_cli("report")
    assert result.exit_code == 2 and "no datasets yet" in result.stderr
    result = run_cli("report", "--resamples", "10")
    assert result.exit_code == 2 and "at least 1000" in result.stderr


BAD_LABELS = [
    (
        {"context_id": "c9", "system": "medium", "annotator": "a", "sensible": 1},
        "unknown context_id 'c9'",
    ),
    (
        {"context_id": "c0", "system": "nope", "annotator": "a", "sensible": 1},
        "unknown system 'nope'",
    ),
    ({"context_id": "c0", "system": "medium", "sensible": 1}, "missing 'annotator'"),
    (
        {"context_id": "c0", "system": "medium", "annotator": "a", "sensible": "maybe"},
        "not a yes/no",
    ),
    (
        {"context_id": "c0", "system": "medium", "annotator": "a", "sensible": True},
        "'specific' is missing",
    ),
]


@pytest.mark.parametrize(("row", "message"), BAD_LABELS, ids=[m for _, m in BAD_LABELS])
def test_bad_label_files_write_nothing(run_cli, project: Path, row: dict, message: str) -> None:
    good = {"context_id": "c1", "system": "small", "annotator": "z", "sensible": 0}
    write_jsonl(project / "bad.jsonl", [good, row])
    result = run_cli("labels", "import", "bad.jsonl")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad.jsonl:2: ") and message in result.stderr
    assert "labels" not in run_cli("export", "labels").output.splitlines()[1:2]


def test_labels_csv_specific_coerced_and_export_formats(run_cli, project: Path) -> None:
    (project / "l.csv").write_text(
        "context_id,system,annotator,sensible,specific\nc0,small,a,нет,да\nc1,small,a,да,нет\n",
        encoding="utf-8",
    )
    result = run_cli("labels", "import", "l.csv")
    assert result.exit_code == 0 and "1 rows had specific=yes with sensible=no" in result.output
    lines = run_cli("export", "labels").output.strip().splitlines()
    assert lines[0].startswith("context_id,system,annotator,sensible,specific")
    assert "c0,small,a,False,False" in lines[1]
    jsonl = run_cli("export", "responses", "--format", "jsonl").output.strip().splitlines()
    assert len(jsonl) == 12 and json.loads(jsonl[0])["system"] == "medium"
    assert run_cli("export", "items", "--format", "parquet", "--out", "i.parquet").exit_code == 0
    assert (project / "i.parquet").stat().st_size > 0
    assert run_cli("export", "items", "--format", "parquet").exit_code == 2


def test_responses_import_errors(run_cli, project: Path) -> None:
    write_jsonl(project / "r.jsonl", [{"context_id": "c0", "response": "другой"}])
    result = run_cli("responses", "import", "r.jsonl", "--system", "medium")
    assert result.exit_code == 2 and "already has a different response" in result.stderr
    write_jsonl(
        project / "r.jsonl",
        [{"context_id": "c0", "response": "a"}, {"context_id": "c0", "response": "b"}],
    )
    result = run_cli("responses", "import", "r.jsonl", "--system", "new")
    assert result.exit_code == 2 and ":2: duplicate context_id" in result.stderr


def test_systems_without_shared_contexts_get_no_comparison(run_cli, project: Path) -> None:
    for name, ids in (("x", ["c0", "c1"]), ("y", ["c2", "c3"])):
        write_jsonl(project / f"{name}.jsonl", [{"context_id": i, "response": name} for i in ids])
        assert run_cli("responses", "import", f"{name}.jsonl", "--system", name).exit_code == 0
    rows = [
        {
            "context_id": i,
            "system": name,
            "annotator": f"r{r}",
            "sensible": r != 0,
            "specific": False,
        }
        for name, ids in (("x", ["c0", "c1"]), ("y", ["c2", "c3"]))
        for i in ids
        for r in range(3)
    ]
    write_jsonl(project / "xy.jsonl", rows)
    assert run_cli("labels", "import", "xy.jsonl").exit_code == 0
    assert run_cli("report", "--resamples", "1000").exit_code == 0
    rep = json.loads((project / "reports" / "val" / "report.json").read_text())
    (comp,) = [c for c in rep["comparisons"] if {c["a"], c["b"]} == {"x", "y"}]
    assert comp["shared_contexts"] == 0 and comp["ssa"] is None
    assert "no shared contexts" in comp["note"]
    assert (
        "no shared contexts: no paired comparison"
        in (project / "reports/val/report.md").read_text()
    )


def test_export_to_a_missing_folder_is_one_line(run_cli, project: Path) -> None:
    result = run_cli("export", "responses", "--out", "nowhere/responses.csv")
    assert result.exit_code == 2
    assert result.stderr == "error: --out: folder nowhere does not exist; create it first\n"


def test_interim_table_is_the_reports_ssa_without_the_rest(run_cli, project: Path) -> None:
    """The admin page's interim numbers are the report's SSA and score interval, item counts
    included, computed without the bootstrap, comparisons and agreement: a flagged rater's
    labels left out, an item short of k labels left out."""
    from evaltool.reporting.aggregate import interim

    rows = [r for r in label_rows() if (r["context_id"], r["annotator"]) != ("c4", "r2")]
    wrong = {"system": "medium", "annotator": "r3", "sensible": False, "specific": False}
    rows += [{**wrong, "context_id": f"c{i}"} for i in range(3)]
    write_jsonl(project / "labels.jsonl", rows)
    run_cli("labels", "import", "labels.jsonl")
    assert run_cli("annotators", "flag", "r3").exit_code == 0
    assert run_cli("report", "--resamples", "1000").exit_code == 0
    rep = json.loads((project / "reports" / "val" / "report.json").read_text())
    fast = interim(db.make_engine(f"sqlite:///{project / 'evaltool.db'}"))
    assert [(s["name"], s["items"], s["ssa"]) for s in fast] == [
        (s["name"], s["items"], s["ssa"]) for s in rep["systems"]
    ]
    assert fast[0]["ssa"]["estimate"] != fast[1]["ssa"]["estimate"]
