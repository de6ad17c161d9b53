"""CSV import machinery shared by the bulk imports (scheduling.imports: facilities and
sessions; vaccination.imports: doses), free of their domain rules: reading and decoding a
file, its header and records, the problems found (``FILE:LINE: column: message``, all
reported at once as ImportInvalid), a record's cells parsed or refused (Row), and the
writes of a checked file (commit_import, Bulk: COPY on PostgreSQL, executemany in chunks
elsewhere), with progress reported now and then."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Mapping, Union

from sqlalchemy import Engine, delete, insert, select, text as sql, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.audit.models import AuditEvent
from cowin_kit.config.models import InstalledPack
from cowin_kit.config.packs import Problem
from cowin_kit.core import bulk, partition_months, partitioning
from cowin_kit.core.db import utcnow
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _, ngettext

log = logging.getLogger(__name__)

Source = Union[str, Path, bytes, IO[bytes], IO[str]]
Progress = Callable[[str, int, int], None]

CHUNK = 2000          # rows per bulk statement (executemany)
COPY_CHUNK = 10_000   # rows per progress step of a COPY (PostgreSQL)
IN_CHUNK = 1000       # values per IN (...) list
PROGRESS_EVERY = 2000

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
INT_PATTERN = re.compile(r"^\d{1,9}$")


# --- results and errors ------------------------------------------------------------------

@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do) with a file's rows."""
    kind: str                # "facilities", "sessions" or "vaccinations"
    file_name: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    partitions: list[str] = field(default_factory=list)   # monthly partitions made for it

    def summary(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged}


def too_long(limit: int) -> str:
    """The field message of a value over ``limit`` characters."""
    return ngettext("is longer than %(num)d character", "is longer than %(num)d characters",
                    limit)


def file_too_large(max_bytes: int) -> str:
    """The message for an upload over ``max_bytes`` (said in whole megabytes)."""
    return ngettext("The file is larger than %(num)d MB.", "The file is larger than %(num)d MB.",
                    max_bytes >> 20)


class ImportInvalid(InvalidInput):
    """The file has problems; nothing was written. ``problems`` lists every one and
    ``rows`` is what the API puts in the problem+json body."""

    code = "invalid_csv"

    def __init__(self, file_name: str, problems: list[Problem]):
        super().__init__(ngettext("%(num)d problem in %(file)s; nothing was imported.",
                                  "%(num)d problems in %(file)s; nothing was imported.",
                                  len(problems), file=file_name))
        self.file_name = file_name
        self.problems = problems

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [{"line": p.line, "column": p.field, "message": p.message}
                for p in self.problems]


class Problems:
    """The problems of one file, each ``FILE:LINE: column: message``."""
    def __init__(self, file_name: str):
        self.file = file_name
        self.items: list[Problem] = []

    def add(self, line: int, column: str, message: str) -> None:
        self.items.append(Problem(self.file, line, column, str(message)))

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportInvalid(self.file, sorted(set(self.items),
                                                  key=lambda p: (p.line, p.field, p.message)))


# --- reading the file --------------------------------------------------------------------

def read_bytes(source: Source) -> bytes | str:
    """The file's content, from a path, bytes or an open stream."""
    if isinstance(source, (str, Path)):
        return Path(source).read_bytes()
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    return source.read()


def decode(data: bytes | str, problems: Problems) -> str | None:
    """The text of UTF-8 ``data`` (without a BOM), or None after recording a problem."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            problems.add(line, "(file)", _("not UTF-8 text"))
            return None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        problems.add(text.count("\n", 0, text.index("\x00")) + 1, "(file)",
                     _("contains a NUL character"))
        return None
    return text


@dataclass
class Table:
    """A file's header and its records."""
    header: list[str]
    records: Iterator[tuple[int, dict[str, str]]]   # (line, values), read as iterated
    lines: int                                       # lines of the file, for progress


def read_table(text: str, problems: Problems, required: tuple[str, ...],
               allowed: Callable[[str], bool]) -> Table | None:
    """The header, checked now, and the records, read (and their shape checked) one by one
    as they are consumed, so that a large file is never held twice in memory."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        problems.add(1, "(file)", _("file is empty"))
        return None
    except csv.Error as exc:
        problems.add(1, "(header)", _("not valid CSV: %(reason)s", reason=str(exc)))
        return None
    seen: set[str] = set()
    for column in header:
        if column in seen:
            problems.add(1, column or "(header)", _("column appears twice"))
        elif not allowed(column):
            problems.add(1, column or "(header)", _("unknown column"))
        seen.add(column)
    missing = [column for column in required if column not in seen]
    for column in missing:
        problems.add(1, column, _("required column is missing"))
    if missing or len(seen) != len(header):
        return None

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    problems.add(reader.line_num, "(row)", _(
                        "%(values)s, the header has %(columns)s",
                        values=ngettext("has %(num)d value", "has %(num)d values",
                                        len(values)),
                        columns=ngettext("%(num)d column", "%(num)d columns", len(header))))
                    continue
                yield reader.line_num, {k: v.strip() for k, v in zip(header, values)}
        except csv.Error as exc:
            problems.add(reader.line_num, "(row)", _("not valid CSV: %(reason)s",
                                                     reason=str(exc)))

    return Table(header, records(), max(text.count("\n"), 1))


# --- cell parsers: the value, or None after recording a problem ---------------------------

class Row:
    """One record being checked; ``bad`` records a problem and marks the row."""

    __slots__ = ("line", "values", "problems", "ok")

    def __init__(self, line: int, values: dict[str, str], problems: Problems):
        self.line, self.values, self.problems, self.ok = line, values, problems, True

    def bad(self, column: str, message: str) -> None:
        self.problems.add(self.line, column, message)
        self.ok = False

    def text(self, column: str, max_length: int, required: bool = False) -> str | None:
        value = self.values.get(column, "")
        if required and not value:
            self.bad(column, _("must not be empty"))
            return None
        if len(value) > max_length:
            self.bad(column, too_long(max_length))
            return None
        return value

    def integer(self, column: str, low: int, high: int, default: int | None) -> int | None:
        value = self.values.get(column, "")
        if not value:
            return default
        if not INT_PATTERN.match(value) or not low <= int(value) <= high:
            self.bad(column, _("must be a whole number from %(low)d to %(high)d",
                               low=low, high=high))
            return None
        return int(value)

    def number(self, column: str, low: float, high: float) -> float | None:
        value = self.values.get(column, "")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:  # also refuses nan and inf
            self.bad(column, _("must be a number from %(low)s to %(high)s", low=low, high=high))
            return None
        return number

    def clock(self, column: str) -> time | None:
        match = _TIME.match(self.values.get(column, ""))
        if not match:
            self.bad(column, _("must be a time like 09:00"))
            return None
        return time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def pack_document(session: Session) -> dict[str, Any]:
    """The installed pack's document (NotFound if none is installed)."""
    document = session.scalar(select(InstalledPack.document).order_by(InstalledPack.id))
    if document is None:
        raise NotFound(_("No country pack is installed."), code="pack_not_installed")
    return document


def file_fingerprint(data: bytes | str) -> str:
    """The file's SHA-256, naming the import in its audit events."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def no_progress(_stage: str, _done: int, _total: int) -> None:
    """The progress callback that reports nothing."""


def tick(progress: Progress, stage: str, done: int, total: int) -> None:
    """Progress now and then; the caller reports the end (done == total) once."""
    if done % PROGRESS_EVERY == 0 and done < total:
        progress(stage, done, total)

def by_code(session: Session, columns: tuple[Any, ...], code_column: Any,
            codes: Iterable[str]) -> dict[str, Any]:
    """The rows of ``columns`` whose ``code_column`` is one of ``codes``, by code."""
    found: dict[str, Any] = {}
    wanted = sorted(set(codes))
    for chunk in chunks(wanted, IN_CHUNK):
        for row in session.execute(select(*columns).where(code_column.in_(chunk))):
            found[row.code] = row
    return found


def commit_import(session: Session, report: ImportReport, action: str, fingerprint: str,
                  progress: Progress, write: Callable[["Bulk"], None],
                  months: Mapping[str, Iterable[datetime]] | None = None) -> ImportReport:
    """Write (unless a dry run), audit the import as one event, commit; roll back on any
    failure so that a file is imported whole or not at all.

    ``months``: {table: the times of the rows ``write`` will add}: on PostgreSQL, the
    monthly partitions of those months are made first where missing (``make_months``), so
    that history lands in its own months and not in the table's default partition."""
    if report.dry_run:
        session.rollback()
        return report
    if months:
        report.partitions = make_months(session, months, progress)
    try:
        write(Bulk(session, progress, fingerprint))
        # the import as a whole: the operator's (each row's own event carries its place)
        audit.record(session, action, "csv_import", fingerprint, place=audit.NATIONAL,
                     file=report.file_name[-200:], **report.as_dict(),
                     **({"partitions": report.partitions} if report.partitions else {}))
        session.commit()
    except IntegrityError:
        # A booking (or another import) changed the same rows meanwhile, e.g. a seat
        # was taken after the file was checked: the database's constraints refused.
        session.rollback()
        raise Conflict(_("The data changed while the file was imported (a booking or another "
                         "import); nothing was imported. Run the import again."),
                       code="import_conflict") from None
    except BaseException:
        session.rollback()
        raise
    return report


def make_months(session: Session, months: Mapping[str, Iterable[datetime]],
                progress: Progress = no_progress) -> list[str]:
    """Before an import's write transaction: the monthly partitions of the rows it will
    write, for each partitioned table ({table: times}), created where missing
    (core.partition_months.ensure_months; nothing on SQLite or for a plain table). Returns the
    partitions created.

    Not inside the import's transaction: creating a partition takes the table's ACCESS
    EXCLUSIVE lock, which a transaction keeps until it ends; held through a long import
    it would stop every read and write of the doses nationwide for its length. Each month
    is made in its own transaction of a moment instead (5 s lock timeout, tried three
    times), on another connection, after the session's transaction (the file's checks,
    which read the table and would hold the lock the creation waits for) has ended:
    nothing was written in it yet, and the write transaction that follows is checked by
    the database's own keys (a duplicate written meanwhile: ``import_conflict``). A month
    whose lock was not had stays missing and its rows go to the default partition, from
    which ``cowin-kit db partition --split-default`` moves them; the import goes on."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with engine.connect() as connection:
        missing = {table: partition_months.missing_months(connection, table, times)
                   for table, times in months.items()}
    if not any(missing.values()):
        return []       # the usual case: nothing to make, the session's transaction goes on
    session.rollback()  # the checks' reads end here (their locks with them)
    created: list[str] = []
    for table, wanted in missing.items():
        if not wanted:
            continue
        done = partition_months.ensure_months(
            engine, table, wanted,
            progress=lambda name, moved, index, total: progress("partitions", index, total))
        created += done.created
        if done.busy:
            log.warning("%s busy: %s not created, their rows go to %s; run `cowin-kit db "
                        "partition --split-default --table %s` later", table,
                        ", ".join(done.busy), partitioning.BY_TABLE[table].default, table)
    return created


Rows = Iterable[tuple[Any, ...]]


class Bulk:
    """Bulk writes inside the session's transaction, rows given as tuples of ``columns``:
    COPY on PostgreSQL (straight into the table, or into a scratch table joined by one
    UPDATE ... FROM), executemany in chunks elsewhere."""

    def __init__(self, session: Session, progress: Progress, fingerprint: str):
        self.session, self.progress, self.fingerprint = session, progress, fingerprint
        dialect = session.get_bind().dialect
        self.postgres = dialect.name == "postgresql"
        self.quote = dialect.identifier_preparer.quote
        self.total = self.done = 0

    def expect(self, rows: int) -> None:
        self.total += rows

    def _advance(self, rows: int) -> None:
        self.done += rows
        self.progress("writing", self.done, max(self.total, self.done))

    def _copy(self, model: Any, table_name: str, columns: tuple[str, ...],
              rows: list[tuple[Any, ...]]) -> None:
        """COPY ``rows`` into ``table_name``: the model's table or a scratch table of its
        columns (core.bulk.copy_rows)."""
        bulk.copy_rows(self.session.connection(), table_name, columns, rows,
                       bulk.json_columns_of(model.__table__, columns))

    def insert(self, model: Any, columns: tuple[str, ...], rows: Rows,
               count: bool = True) -> None:
        for chunk in chunks(rows, COPY_CHUNK if self.postgres else CHUNK):
            if self.postgres:
                self._copy(model, model.__table__.name, columns, chunk)
            else:
                self.session.execute(insert(model), [dict(zip(columns, row)) for row in chunk])
            if count:
                self._advance(len(chunk))

    def update(self, model: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """``columns`` include the primary key; every row sets all the others."""
        if not rows:
            return
        table = model.__table__
        if not self.postgres:
            for chunk in chunks(rows):
                self.session.execute(update(model), [dict(zip(columns, row)) for row in chunk])
                self._advance(len(chunk))
            return
        keys = [c.name for c in table.primary_key.columns]
        q = self.quote
        scratch_name = f"import_{table.name}"
        scratch = q(scratch_name)
        self.session.execute(sql(
            f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS SELECT "
            f"{', '.join(q(c) for c in columns)} FROM {q(table.name)} WITH NO DATA"))
        for chunk in chunks(rows, COPY_CHUNK):
            self._copy(model, scratch_name, columns, chunk)
            self._advance(len(chunk))
        self.session.execute(sql(
            f"UPDATE {q(table.name)} AS t SET "
            + ", ".join(f"{q(c)} = s.{q(c)}" for c in columns if c not in keys)
            + f" FROM {scratch} AS s WHERE "
            + " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in keys)))
        self.session.execute(sql(f"DROP TABLE {scratch}"))

    def next_version(self, model: Any, ids: list[Any]) -> None:
        """version + 1 on these rows (their bookable facts changed)."""
        for chunk in chunks(ids, IN_CHUNK):
            self.session.execute(update(model).where(model.id.in_(chunk))
                                 .values(version=model.version + 1)
                                 .execution_options(synchronize_session=False))

    def delete(self, model: Any, ids: list[Any]) -> None:
        for chunk in chunks(ids, IN_CHUNK):
            self.session.execute(delete(model).where(model.id.in_(chunk))
                                 .execution_options(synchronize_session=False))
            self._advance(len(chunk))

    def audit(self, action: str, object_type: str,
              objects: Iterable[tuple[Any, dict[str, Any], audit.Place]]) -> None:
        """One audit event per object (its id, details and place), as the services record
        them, each naming the import it came from (made chunk by chunk: they are the
        largest rows)."""
        actor = audit.current_actor()
        now, mark = utcnow(), self.fingerprint[:16]
        self.insert(AuditEvent, AUDIT_COLUMNS, (
            (now, actor.type, actor.id, action, object_type, str(object_id),
             actor.request_id, actor.source_ip, place.location_id, place.facility_id,
             {**details, "import": mark})
            for object_id, details, place in objects), count=False)


AUDIT_COLUMNS = ("occurred_at", "actor_type", "actor_id", "action", "object_type",
                 "object_id", "request_id", "source_ip", "location_id", "facility_id",
                 "details")
