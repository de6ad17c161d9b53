"""Installing a validated country pack into the database.

Installation is one transaction and idempotent: rows are matched by their code and
updated in place, new ones are added, and ones the pack no longer has are deleted, unless
records (facilities, staff grants, sessions, registrations) still reference them, in which
case nothing at all is changed and the refusal names what is referenced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import String, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.models import InstalledPack
from cowin_kit.config.packs import Pack
from cowin_kit.core import bulk
from cowin_kit.core.db import Base
from cowin_kit.core.durations import parse as parse_duration
from cowin_kit.core.errors import Conflict
from cowin_kit.geography.models import Facility, Location, PopulationFigure, PostalCode
from cowin_kit.identity.models import Gender, IdDocumentType, RoleGrant
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule

Progress = Callable[[str, int, int], None]
CHUNK = 2000


@dataclass
class InstallReport:
    pack_code: str
    version: str
    content_hash: str
    unchanged: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, what: str, n: int = 1) -> None:
        self.counts.setdefault(kind, {"added": 0, "updated": 0, "deleted": 0})[what] += n


class PackInUse(Conflict):
    code = "pack_in_use"


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def install_pack(session: Session, pack: Pack, progress: Progress = _no_progress) -> InstallReport:
    """Install or update ``pack``; the caller's session is committed on success."""
    report = InstallReport(pack.code, pack.version, pack.content_hash)
    other = session.scalars(select(InstalledPack).where(InstalledPack.code != pack.code)).first()
    if other is not None:
        raise PackInUse(
            f"this database already serves the pack {other.code}; one database serves one "
            f"country (use another database for {pack.code})"
        )
    installed = session.scalars(select(InstalledPack).where(InstalledPack.code == pack.code)).first()
    try:
        _install_locations(session, pack, report, progress)
        _install_postal_codes(session, pack, report, same_content=(
            installed is not None and installed.content_hash == pack.content_hash))
        _install_population(session, pack, report)
        _install_id_types(session, pack, report)
        _install_genders(session, pack, report)
        _install_vaccines(session, pack, report)
        translations = {locale: path.read_text(encoding="utf-8")
                        for locale, path in pack.translations.items()}
        if installed is None:
            installed = InstalledPack(code=pack.code, version=pack.version,
                                      content_hash=pack.content_hash, document=pack.document,
                                      translations=translations)
            session.add(installed)
        else:
            installed.translations = translations
            report.unchanged = (installed.content_hash == pack.content_hash
                                and not any(sum(c.values()) for c in report.counts.values()))
            installed.version = pack.version
            installed.content_hash = pack.content_hash
            installed.document = pack.document
        session.flush()
        audit.record(session, "pack.install", "installed_pack", pack.code, place=audit.NATIONAL,
                     version=pack.version, content_hash=pack.content_hash,
                     counts=report.counts)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


def _refuse_if_referenced(kind: str, codes: Sequence[str], references: Iterable[tuple[str, int]]) -> None:
    used = [(what, n) for what, n in references if n]
    if used:
        listed = ", ".join(sorted(codes)[:5]) + (" ..." if len(codes) > 5 else "")
        why = "; ".join(f"{n} {what}" for what, n in used)
        raise PackInUse(
            f"the pack no longer has {len(codes)} {kind} ({listed}) but records still "
            f"reference them ({why}); nothing was changed"
        )


def _install_locations(session: Session, pack: Pack, report: InstallReport,
                       progress: Progress) -> None:
    existing = {
        row.code: row for row in session.execute(
            select(Location.id, Location.code, Location.parent_id, Location.level,
                   Location.name, Location.names, Location.latitude, Location.longitude)
        )
    }
    total = len(pack.locations)
    wanted = {row.code for row in pack.locations}
    doomed = [code for code in existing if code not in wanted]
    if doomed:
        doomed_ids = [existing[c].id for c in doomed]
        refs = []
        for label, column in (("facilities", Facility.location_id),
                              ("staff role grants", RoleGrant.location_id)):
            n = 0
            for chunk in _chunks(doomed_ids):
                n += session.scalar(select(func.count()).where(column.in_(chunk))) or 0
            refs.append((label, n))
        _refuse_if_referenced("locations", doomed, refs)

    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for done, row in enumerate(pack.locations, start=1):
        values = {"code": row.code, "level": row.level, "name": row.name, "names": row.names,
                  "latitude": row.latitude, "longitude": row.longitude}
        current = existing.get(row.code)
        if current is None:
            new_rows.append(values)
        elif (current.level, current.name, current.names, current.latitude, current.longitude) != (
                row.level, row.name, row.names, row.latitude, row.longitude):
            changed_rows.append({"id": current.id, **values})
        if done % CHUNK == 0 or done == total:
            progress("locations", done, total)
    for chunk in _chunks(new_rows):
        session.execute(insert(Location), chunk)
    for chunk in _chunks(changed_rows):
        session.execute(update(Location), chunk)
    report.count("locations", "added", len(new_rows))
    report.count("locations", "updated", len(changed_rows))

    ids = dict(session.execute(select(Location.code, Location.id)).all())
    parent_updates = []
    for row in pack.locations:
        parent_id = ids[row.parent_code] if row.parent_code else None
        current = existing.get(row.code)
        if current is None or current.parent_id != parent_id:
            parent_updates.append({"id": ids[row.code], "parent_id": parent_id})
    for chunk in _chunks(parent_updates):
        session.execute(update(Location), chunk)

    if doomed:
        doomed_ids = [existing[c].id for c in doomed]
        # Children before parents; postal codes and population go with their place.
        by_level = sorted(doomed, key=lambda c: -existing[c].level)
        for chunk in _chunks([existing[c].id for c in by_level]):
            session.execute(delete(PostalCode).where(PostalCode.location_id.in_(chunk)))
            session.execute(delete(PopulationFigure).where(PopulationFigure.location_id.in_(chunk)))
            session.execute(update(Location).where(Location.id.in_(chunk)).values(parent_id=None))
        for chunk in _chunks(doomed_ids):
            session.execute(delete(Location).where(Location.id.in_(chunk)))
        report.count("locations", "deleted", len(doomed))


def _install_postal_codes(session: Session, pack: Pack, report: InstallReport,
                          same_content: bool) -> None:
    """The postal-code directory (India: about 21,000 PIN-district pairs). Core
    statements on the table, not the ORM's bulk path: building an ORM insert per row was
    most of a fresh install's time.

    Only installs write the directory, and deleting a place deletes its codes: when the
    installed pack has this pack's content and the table has as many rows as the pack
    has pairs, it is the pack's directory and the pairs are not compared one by one."""
    table = PostalCode.__table__
    if same_content:
        pairs = sum(len(set(row.postal_codes)) for row in pack.locations)
        if session.scalar(select(func.count()).select_from(table)) == pairs:
            return
    ids = dict(session.execute(select(Location.code, Location.id)).all())
    # Compared as "code location_id" texts: an install that changes nothing compares all
    # 21,000 pairs, and comparing result rows cost five times more.
    wanted = {f"{postal} {ids[row.code]}" for row in pack.locations
              for postal in row.postal_codes}
    existing = set(session.scalars(
        select(table.c.code + " " + cast(table.c.location_id, String))))
    added = [_postal_pair(pair) for pair in wanted - existing]
    removed = [_postal_pair(pair) for pair in existing - wanted]
    gone = delete(table).where(table.c.code == bindparam("gone_code"),
                               table.c.location_id == bindparam("gone_location"))
    for chunk in _chunks([{"gone_code": c, "gone_location": i} for c, i in sorted(removed)]):
        session.connection().execute(gone, chunk)
    _insert_rows(session, table, ("code", "location_id"), sorted(added))
    report.count("postal_codes", "added", len(added))
    report.count("postal_codes", "deleted", len(removed))


def _postal_pair(text: str) -> tuple[str, int]:
    code, location_id = text.rsplit(" ", 1)  # a code may have spaces (Canada)
    return code, int(location_id)


def _insert_rows(session: Session, table: Any, columns: tuple[str, ...],
                 rows: Sequence[tuple[Any, ...]]) -> None:
    """Many plain rows into ``table`` (core.bulk: PostgreSQL's COPY streams them in one
    command; an INSERT of 21,000 rows took 450 ms)."""
    bulk.insert_rows(session.connection(), table, columns, rows)


def _install_population(session: Session, pack: Pack, report: InstallReport) -> None:
    ids = dict(session.execute(select(Location.code, Location.id)).all())
    wanted = {(ids[r.location_code], r.year, r.age_band, r.sex): r.count for r in pack.population}
    existing = {
        (r.location_id, r.year, r.age_band, r.sex): (r.id, r.count)
        for r in session.execute(select(PopulationFigure.id, PopulationFigure.location_id,
                                        PopulationFigure.year, PopulationFigure.age_band,
                                        PopulationFigure.sex, PopulationFigure.count))
    }
    stale = [existing[k][0] for k in existing if k not in wanted]
    changed = [{"id": existing[k][0], "count": n} for k, n in wanted.items()
               if k in existing and existing[k][1] != n]
    added = [{"location_id": k[0], "year": k[1], "age_band": k[2], "sex": k[3], "count": n}
             for k, n in wanted.items() if k not in existing]
    for chunk in _chunks(stale):
        session.execute(delete(PopulationFigure).where(PopulationFigure.id.in_(chunk)))
    for chunk in _chunks(changed):
        session.execute(update(PopulationFigure), chunk)
    for chunk in _chunks(added):
        session.execute(insert(PopulationFigure), chunk)
    report.count("population", "added", len(added))
    report.count("population", "updated", len(changed))
    report.count("population", "deleted", len(stale))


def _upsert_by_code(session: Session, report: InstallReport, kind: str, model: type,
                    items: list[dict[str, Any]],
                    references: Callable[[list[Any]], list[tuple[str, int]]] | None = None) -> None:
    existing = {obj.code: obj for obj in session.scalars(select(model))}
    wanted = {item["code"] for item in items}
    doomed = [obj for code, obj in existing.items() if code not in wanted]
    if doomed and references is not None:
        _refuse_if_referenced(kind, [o.code for o in doomed], references([o.id for o in doomed]))
    for item in items:
        obj = existing.get(item["code"])
        if obj is None:
            session.add(model(**item))
            report.count(kind, "added")
            continue
        if any(getattr(obj, key) != value for key, value in item.items()):
            for key, value in item.items():
                setattr(obj, key, value)
            report.count(kind, "updated")
    for obj in doomed:
        session.delete(obj)
        report.count(kind, "deleted")
    session.flush()


def _install_id_types(session: Session, pack: Pack, report: InstallReport) -> None:
    items = [
        {"code": t["code"], "labels": t["label"], "validator": t["validator"],
         "min_age": t["min_age"], "registration": t["registration"], "position": index}
        for index, t in enumerate(pack.document["id_types"])
    ]
    _upsert_by_code(session, report, "id_types", IdDocumentType, items,
                    references=_beneficiary_references(session, "id_type_id"))


def _install_genders(session: Session, pack: Pack, report: InstallReport) -> None:
    items = [{"code": g["code"], "labels": g["label"], "position": index}
             for index, g in enumerate(pack.document["genders"])]
    _upsert_by_code(session, report, "genders", Gender, items,
                    references=_beneficiary_references(session, "gender_id"))


def _beneficiary_references(session: Session, column_name: str
                            ) -> Callable[[list[Any]], list[tuple[str, int]]]:
    """Counts beneficiaries using the given ID types or genders."""
    def count(ids: list[Any]) -> list[tuple[str, int]]:
        table = Base.metadata.tables.get("beneficiary")
        if table is None or column_name not in table.c:
            return []  # registration is not part of this build's schema
        n = session.scalar(select(func.count()).select_from(table)
                           .where(table.c[column_name].in_(ids)))
        return [("beneficiaries", n or 0)]
    return count


def _install_vaccines(session: Session, pack: Pack, report: InstallReport) -> None:
    products = [
        {"code": p["code"], "names": p["name"], "manufacturer": p["manufacturer"],
         "codes": dict(p["codes"]), "antigens": list(p["antigens"]),
         "stock": dict(p.get("stock") or {})}
        for p in pack.vaccines["products"]
    ]

    def product_refs(ids: list[Any]) -> list[tuple[str, int]]:
        n = session.scalar(select(func.count()).where(VaccinationSession.product_id.in_(ids)))
        return [("vaccination sessions", n or 0)]

    # Schedules first: they name products, and a product may be going away.
    schedules = [
        {"code": s["code"], "disease": s["disease"], "target_disease": s["target_disease"],
         "products": s["products"], "interchangeable": s["interchangeable"],
         "min_age": _whole_years(s["min_age"]),
         "max_age": None if s["max_age"] is None else _whole_years(s["max_age"]),
         "routine": s["routine"], "timed_from": s["timed_from"],
         "options": _schedule_options(s),
         "doses": [_stored_dose(d) for d in s["doses"]]}
        for s in pack.vaccines["schedules"]
    ]
    _upsert_by_code(session, report, "products", VaccineProduct, products, product_refs)
    _upsert_by_code(session, report, "schedules", VaccineSchedule, schedules)


SCHEDULE_OPTIONS = ("start_max_age", "grace", "prior_series_within")
SCHEDULE_SCOPE = ("sex", "areas")


def _schedule_options(schedule: dict[str, Any]) -> dict[str, Any]:
    """The schedule-level durations as the pack wrote them; a routine schedule's own ages
    too (the whole-year columns lose the weeks and months that programme.due needs); and
    whom it is limited to: ``sex`` (gender codes) and ``areas`` (location codes)."""
    options = {key: schedule[key] for key in SCHEDULE_OPTIONS if key in schedule}
    options.update({key: list(schedule[key]) for key in SCHEDULE_SCOPE if key in schedule})
    if schedule["routine"]:
        options.update({key: schedule[key] for key in ("min_age", "max_age")
                        if schedule.get(key) not in (None, 0)})  # 0: no limit
    return options


def _whole_years(value: Any) -> int:
    """A pack age (a duration or whole years) as the whole years it reaches (floor), for
    the columns the appointment flows compare with a person's age in years."""
    duration = parse_duration(value)
    if duration.unit == "y":
        return duration.amount
    if duration.unit == "m":
        return duration.amount // 12
    return duration.approx_days() * 100 // 36525


def _stored_dose(dose: dict[str, Any]) -> dict[str, Any]:
    """The dose as the pack wrote it; an interval written as a duration also gets its
    ``min_interval_days``/``max_interval_days`` (calendar months and years approximated)
    for the appointment flows, which count days."""
    stored = dict(dose)
    for key in ("min_interval", "max_interval"):
        if stored.get(key) is not None and stored.get(f"{key}_days") is None:
            stored[f"{key}_days"] = parse_duration(stored[key]).approx_days()
    return stored


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
