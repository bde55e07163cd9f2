"""The same class as reportgen JSON, as xAPI statements, as a Moodle log and as Caliper events:
the same students, sequences and metrics, whichever file the teacher had."""
import pytest

from reportgen.domain.importers import ImportOptions, detect, read_imported
from reportgen.domain.preparation import prepare
from reportgen.domain.sequencing import sequence_students
from reportgen.domain.submission import loads
from reportgen.domain.upload import parse_upload

from ..support import class_forms

FORMS = {
    "reportgen": lambda: class_forms.encoded(class_forms.as_reportgen()),
    "xapi": lambda: class_forms.encoded(class_forms.as_xapi()),
    "moodle": class_forms.as_moodle,
    "caliper": lambda: class_forms.encoded(class_forms.as_caliper()),
}
BERLIN = ImportOptions(timezone="Europe/Berlin")


def read(form: str):
    body = FORMS[form]()
    assert detect(body) == form
    if form == "reportgen":
        return parse_upload(loads(body)), {}
    imported = read_imported(body, form, BERLIN)
    return imported.upload(), imported.student_names


def without_unit_ids(metrics: dict) -> dict:
    """Metrics as a teacher compares them: unit ids differ by format (101, an IRI, a URN), labels
    do not; a flag's text names the unit by id, its code does not."""
    return {**metrics, "units": [{key: value for key, value in unit.items() if key != "unit"}
                                 for unit in metrics["units"]],
            "flags": [flag["code"] for flag in metrics["flags"]]}


def without_cohort_unit_ids(cohort: dict) -> dict:
    """A class's figures as a teacher compares them: its units by label, not by id."""
    hardest = cohort["hardest_unit"]
    return {**cohort, "units": [{key: value for key, value in unit.items() if key != "unit"} for unit in cohort["units"]],
            "hardest_unit": hardest and {key: value for key, value in hardest.items() if key != "unit"}}


def report(form: str) -> dict:
    upload, names = read(form)
    prepared = prepare(upload.students, upload.options)
    _, sequences = sequence_students(prepared.students, prepared.labels)
    login = {**class_forms.LOGIN, **{login: login for login in class_forms.LOGIN.values()}}
    return {
        "students": {login[seq.student.student_id]: (seq.student.namespace, seq.labels, without_unit_ids(metrics))
                     for seq, metrics in zip(sequences, prepared.metrics)},
        "cohorts": {namespace: without_cohort_unit_ids(cohort) for namespace, cohort in prepared.cohorts.items()},
        "labels": {namespace: list(mapping.values()) for namespace, mapping in prepared.labels.items()},
    }


@pytest.mark.parametrize("form", ["xapi", "moodle", "caliper"])
def test_the_same_class_in_every_format_gives_the_same_sequences_and_metrics(form):
    expected = report("reportgen")
    assert len(expected["students"]) == 6 and expected["labels"] == {"PY101": ["Q1", "Q2", "Q3"]}
    assert report(form) == expected


def test_the_class_spans_the_night_the_clocks_go_back_and_has_flags_to_compare():
    expected = report("reportgen")
    days = {metrics["first"][:10] for _, _, metrics in expected["students"].values()} | {
        metrics["last"][:10] for _, _, metrics in expected["students"].values()}
    assert "2024-10-26" in days and days & {"2024-10-27", "2024-10-28"}  # summer time, then winter time
    assert any(metrics["time_on_task_seconds"] for _, _, metrics in expected["students"].values())
    assert any(metrics["flags"] for _, _, metrics in expected["students"].values())


@pytest.mark.parametrize("form", ["xapi", "moodle", "caliper"])
def test_every_format_carries_the_students_names(form):
    _, names = read(form)
    assert names["PY101"][{"moodle": "8"}.get(form, "priya")] == "प्रिया शर्मा"
