"""Reading and poking the database behind the API, as only a test may."""
from __future__ import annotations


def corrupt_student(app, task_id: str, position: int) -> None:
    """Store input for one student that the renderer rejects, as if written by an older version."""
    from sqlalchemy import update

    from reportgen.extensions import db
    from reportgen.models import ReportItem

    with app.app_context():
        db.session.execute(update(ReportItem).where(ReportItem.report_id == task_id, ReportItem.position == position)
                           .values(input_json='[{"student_id": 5, "events": []}]'))
        db.session.commit()


def report_count(app) -> int:
    from sqlalchemy import func, select

    from reportgen.extensions import db
    from reportgen.models import Report

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Report))


def stored_upload(app, task_id: str) -> list[dict]:
    """The students a report stored (as JSON documents), read back from its rows."""
    from reportgen.domain.submission import to_document
    from reportgen.extensions import db
    from reportgen.models import Report
    from reportgen.pipeline.submit import stored_upload as students_of

    with app.app_context():
        return to_document(students_of(db.session.get(Report, task_id)))


def all_reports(app) -> list:
    from sqlalchemy import select

    from reportgen.extensions import db
    from reportgen.models import Report

    with app.app_context():
        reports = db.session.scalars(select(Report).options(db.undefer(Report.labels))
                                     .order_by(Report.created_at)).all()
        db.session.expunge_all()
        return reports

