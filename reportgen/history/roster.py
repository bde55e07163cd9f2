"""A class's roster in the database: replaced whole, read as the names a report shows beside the
ids (``options.student_names``, the one path names take into a report) and as the addresses a
subscription emails each student's own report to. Rows go with their class (``ON DELETE CASCADE``).
"""
from __future__ import annotations

from sqlalchemy import delete, insert, select

from ..domain.roster import RosterEntry
from ..extensions import db
from ..models import RosterEntry as RosterRow
from ..models import SchoolClass

#: Rows sent in one INSERT (SQLite's bound-parameter limit is 32,766: four columns each).
INSERT_BATCH = 5_000


def replace_roster(school_class: SchoolClass, entries: list[RosterEntry]) -> None:
    """The class's roster becomes ``entries``; not committed (the caller's one transaction)."""
    db.session.execute(delete(RosterRow).where(RosterRow.class_id == school_class.id))
    rows = [{"class_id": school_class.id, "student_id": entry.student_id, "name": entry.name, "email": entry.email}
            for entry in entries]
    for start in range(0, len(rows), INSERT_BATCH):
        db.session.execute(insert(RosterRow), rows[start:start + INSERT_BATCH])


def roster_of(school_class: SchoolClass) -> list[RosterEntry]:
    return [RosterEntry(row.student_id, row.name, row.email) for row in db.session.scalars(
        select(RosterRow).where(RosterRow.class_id == school_class.id).order_by(RosterRow.student_id))]


def names_of(school_class: SchoolClass) -> dict[str, str]:
    """Student id → name, for the students the roster names."""
    return dict(db.session.execute(select(RosterRow.student_id, RosterRow.name)
                                   .where(RosterRow.class_id == school_class.id, RosterRow.name.is_not(None))).all())


def addresses_of(school_class: SchoolClass) -> dict[str, str]:
    """Student id → email address, for the students the roster gives one."""
    return dict(db.session.execute(select(RosterRow.student_id, RosterRow.email)
                                   .where(RosterRow.class_id == school_class.id, RosterRow.email.is_not(None))).all())
