"""Duplicate people: each person's matching keys, candidate pairs scored by the rules (live
at registration through the ``person_registered`` signal, and as a batch over everyone),
the reviewer's queue and marking two records distinct."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import Integer, String, and_, bindparam, delete, func, insert, or_, select, union
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.core.errors import Conflict, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.corrections import rules
from cowin_kit.corrections.base import _check, _now, _scope
from cowin_kit.corrections.models import DuplicateCandidate, PersonMatchKey
from cowin_kit.geography.models import Location
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary


def facts_of(person: Beneficiary) -> rules.PersonFacts:
    return rules.PersonFacts(person.id, person.name, person.birth_year, person.birth_date,
                             person.gender_id, person.account_id, person.guardian_name,
                             person.id_type_id, person.id_number_hash)


_FACT_COLUMNS = (Beneficiary.id, Beneficiary.name, Beneficiary.birth_year,
                 Beneficiary.birth_date, Beneficiary.gender_id, Beneficiary.account_id,
                 Beneficiary.guardian_name, Beneficiary.id_type_id, Beneficiary.id_number_hash)


def refresh_keys(session: Session, person: Beneficiary) -> None:
    """Write the person's matching keys anew (after registration or a correction)."""
    session.execute(delete(PersonMatchKey).where(PersonMatchKey.beneficiary_id == person.id))
    _write_keys(session, person)


def _write_keys(session: Session, person: Beneficiary) -> None:
    if person.merged_into_id is None:
        keys = rules.match_keys(facts_of(person))
        if keys:
            # one INSERT with a row of VALUES per key: psycopg's executemany (a pipeline)
            # cost about five times as much CPU for the two or three keys of a person
            session.execute(insert(PersonMatchKey.__table__).values(
                [{"key": k, "beneficiary_id": person.id} for k in sorted(keys)]))


@dataclass(frozen=True)
class Candidate:
    other_id: int
    score: float
    reasons: tuple[str, ...]


def _score_against(session: Session, person: rules.PersonFacts,
                   other_ids: Iterable[int]) -> list[Candidate]:
    ids = sorted(set(other_ids) - {person.id})
    out: list[Candidate] = []
    for start in range(0, len(ids), 500):
        for row in session.execute(select(*_FACT_COLUMNS).where(
                Beneficiary.id.in_(ids[start:start + 500]),
                Beneficiary.merged_into_id.is_(None))):
            match = rules.score(person, rules.PersonFacts(*row))
            if match.score >= rules.THRESHOLD:
                out.append(Candidate(row.id, match.score, match.reasons))
    return sorted(out, key=lambda c: (-c.score, c.other_id))


def find_candidates(session: Session, person: Beneficiary) -> list[Candidate]:
    """Records that may be this person, best first: those sharing a matching key, and the
    other members of their account."""
    facts = facts_of(person)
    keys = sorted(rules.match_keys(facts))
    others = set(session.scalars(select(PersonMatchKey.beneficiary_id).where(
        PersonMatchKey.key.in_(keys)))) if keys else set()
    others |= set(session.scalars(select(Beneficiary.id).where(
        Beneficiary.account_id == person.account_id)))
    return _score_against(session, facts, others)


def _find_new_person_candidates(session: Session, person: Beneficiary) -> list[Candidate]:
    """find_candidates for a person registered in this transaction, in one query: those
    sharing a key or the account, less those rules.score puts at 0 for their document
    alone (rules.other_document_filter: the same type of document with another number),
    which no threshold admits. Common names share keys with many people; this way a
    person with a document is scored only against people without one of that type, not
    against every namesake. The same candidates as find_candidates (tests compare)."""
    facts = facts_of(person)
    keys = sorted(rules.match_keys(facts))
    document = rules.other_document_filter(facts)
    rows = session.execute(_NEW_PERSON_CANDIDATES, {
        "keys": keys, "account_id": facts.account_id, "person_id": facts.id,
        "id_type_id": document[0] if document else None,
        "id_hash": document[1] if document else None})
    out = []
    for row in rows:
        match = rules.score(facts, rules.PersonFacts(*row))
        if match.score >= rules.THRESHOLD:
            out.append(Candidate(row.id, match.score, match.reasons))
    return sorted(out, key=lambda c: (-c.score, c.other_id))


def _new_person_candidates_statement() -> Any:
    """Built once: the facts of the people sharing one of ``keys`` or the account
    ``account_id``, not merged, not ``person_id``, and, when ``id_type_id`` is given, not
    holding that type of document with a number other than ``id_hash``."""
    table = Beneficiary.__table__.c
    sharing = union(
        select(PersonMatchKey.__table__.c.beneficiary_id.label("id")).where(
            PersonMatchKey.__table__.c.key.in_(bindparam("keys", expanding=True))),
        select(table.id).where(table.account_id == bindparam("account_id"))).subquery()
    type_id = bindparam("id_type_id", type_=Integer)
    other_document = and_(table.id_type_id == type_id, table.id_number_hash.is_not(None),
                          table.id_number_hash != "",
                          table.id_number_hash != bindparam("id_hash", type_=String))
    return (select(*(table[c.key] for c in _FACT_COLUMNS))
            .join_from(sharing, Beneficiary.__table__, table.id == sharing.c.id)
            .where(table.merged_into_id.is_(None), table.id != bindparam("person_id"),
                   or_(type_id.is_(None), table.id_type_id.is_(None), ~other_document)))


_NEW_PERSON_CANDIDATES = _new_person_candidates_statement()


def _note_candidates(session: Session, person: Beneficiary, found: list[Candidate],
                     found_by: str) -> int:
    """Store new candidate pairs (a pair already known, open or decided, is kept as it
    is); how many were new."""
    if not found:
        return 0
    location_id = person.location_id
    new = 0
    for candidate in found:
        low, high = sorted((person.id, candidate.other_id))
        exists = session.scalar(select(DuplicateCandidate.id).where(
            DuplicateCandidate.low_id == low, DuplicateCandidate.high_id == high))
        if exists is not None:
            continue
        session.add(DuplicateCandidate(low_id=low, high_id=high, score=candidate.score,
                                       reasons=list(candidate.reasons),
                                       location_id=location_id, found_by=found_by))
        new += 1
    session.flush()
    return new


def check_new_person(session: Session, person: Beneficiary) -> int:
    """At registration (the ``person_registered`` receiver; the caller commits): the
    person's keys are written and possible duplicates noted; how many."""
    _write_keys(session, person)  # new: no keys yet to delete
    return _note_candidates(session, person, _find_new_person_candidates(session, person),
                            "live")


def open_candidates_of(session: Session, person: Beneficiary) -> list[DuplicateCandidate]:
    return list(session.scalars(select(DuplicateCandidate).where(
        or_(DuplicateCandidate.low_id == person.id, DuplicateCandidate.high_id == person.id),
        DuplicateCandidate.status == "open").order_by(DuplicateCandidate.score.desc())))


@dataclass
class ScanResult:
    people: int = 0
    keyed: int = 0
    pairs: int = 0
    new_candidates: int = 0


def _area_ids(session: Session, location_code: str) -> list[int]:
    root = session.scalar(select(Location.id).where(Location.code == location_code))
    if root is None:
        raise NotFound(_("No location with code %(code)s.", code=location_code),
                       code="location_not_found")
    children: dict[int | None, list[int]] = {}
    for lid, parent in session.execute(select(Location.id, Location.parent_id)):
        children.setdefault(parent, []).append(lid)
    out, todo = [], [root]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def scan(session: Session, *, location: str | None = None, chunk: int = 20000,
         progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
    """The batch search: every person (of ``location``'s area, or everyone) gets their
    matching keys if they have none, then each pair sharing a key or an account is scored
    once and the likely ones are stored as candidates. Works in chunks of person ids,
    committing each; ``progress(stage, done, total)`` after each chunk (stages "keys" and
    "pairs")."""
    result = ScanResult()
    people = select(Beneficiary.id).where(Beneficiary.merged_into_id.is_(None))
    if location is not None:
        people = people.where(Beneficiary.location_id.in_(_area_ids(session, location)))
    ids = list(session.scalars(people.order_by(Beneficiary.id)))
    result.people = len(ids)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        lo, hi = part[0], part[-1]
        in_part = and_(Beneficiary.id >= lo, Beneficiary.id <= hi,
                       Beneficiary.merged_into_id.is_(None))
        # 1. keys for people without any
        keyed = session.scalars(select(PersonMatchKey.beneficiary_id).distinct().where(
            PersonMatchKey.beneficiary_id.between(lo, hi)))
        have = set(keyed)
        rows = []
        part_set = set(part)
        for row in session.execute(select(*_FACT_COLUMNS).where(in_part)):
            if row.id in part_set and row.id not in have:
                rows.extend({"key": k, "beneficiary_id": row.id}
                            for k in rules.match_keys(rules.PersonFacts(*row)))
                result.keyed += 1
        if rows:
            session.execute(insert(PersonMatchKey.__table__), rows)
        session.commit()
        if progress is not None:
            progress("keys", min(start + chunk, len(ids)), len(ids))
    # 2. every block (people sharing a key, or an account) read once, in key order;
    #    each pair in a block scored once, however many keys it shares
    area = set(ids) if location is not None else None
    seen: set[int] = set()
    pending: list[tuple[int, int]] = []
    total = session.scalar(select(func.count()).select_from(PersonMatchKey)) or 0
    read = [0]

    def flush_pairs() -> None:
        if pending:
            result.new_candidates += _score_pairs(session, pending)
            result.pairs += len(pending)
            pending.clear()
            session.commit()

    statements = (
        select(PersonMatchKey.key, PersonMatchKey.beneficiary_id)
        .order_by(PersonMatchKey.key, PersonMatchKey.beneficiary_id),
        select(Beneficiary.account_id, Beneficiary.id)
        .where(Beneficiary.merged_into_id.is_(None))
        .order_by(Beneficiary.account_id, Beneficiary.id))
    # PostgreSQL: streamed on a connection of its own (committing the scored pairs does
    # not end the read); SQLite (small instances): read whole, as its file lock would
    # keep the writes waiting for the reader
    streaming = session.get_bind().dialect.name == "postgresql"
    reader = Session(bind=session.get_bind()) if streaming else session
    try:
        for statement in statements:
            rows = reader.execute(statement.execution_options(
                stream_results=True, yield_per=50000)) if streaming \
                else session.execute(statement).all()
            for members in _blocks(rows, read):
                for i, x in enumerate(members):
                    for y in members[i + 1:]:
                        if area is not None and x not in area and y not in area:
                            continue
                        code = x << 32 | y
                        if code in seen:
                            continue
                        seen.add(code)
                        pending.append((x, y))
                if len(pending) >= 20000:
                    flush_pairs()
                    if progress is not None:
                        progress("pairs", min(read[0], total), total)
    finally:
        if streaming:
            reader.close()
    flush_pairs()
    if progress is not None:
        progress("pairs", total, total)
    scanned = session.scalar(select(Location.id).where(Location.code == location)) \
        if location is not None else None
    audit.record(session, "duplicates.scan", "location", location or "*",
                 place=audit.at(scanned), people=result.people, pairs=result.pairs, new=result.new_candidates)
    session.commit()
    return result


def _blocks(rows: Iterable[Any], counter: list[int]) -> Iterable[list[int]]:
    """The groups of ids sharing the first column of ``rows`` (ordered by it);
    ``counter[0]`` counts the rows read."""
    current, members = None, []
    for block_key, member in rows:
        counter[0] += 1
        if block_key != current:
            if len(members) > 1:
                yield members
            current, members = block_key, []
        members.append(member)
    if len(members) > 1:
        yield members


def _score_pairs(session: Session, pairs: list[tuple[int, int]]) -> int:
    """Score the pairs (low id first, none known yet) and store the likely ones; how
    many were stored."""
    involved = sorted({x for pair in pairs for x in pair})
    facts: dict[int, rules.PersonFacts] = {}
    locations: dict[int, int | None] = {}
    for begin in range(0, len(involved), 5000):
        for row in session.execute(select(*_FACT_COLUMNS, Beneficiary.location_id).where(
                Beneficiary.id.in_(involved[begin:begin + 5000]),
                Beneficiary.merged_into_id.is_(None))):
            facts[row[0]] = rules.PersonFacts(*row[:9])
            locations[row[0]] = row[9]
    likely = []
    for x, y in pairs:
        if x not in facts or y not in facts:
            continue
        match = rules.score(facts[x], facts[y])
        if match.score >= rules.THRESHOLD:
            likely.append((x, y, match))
    if not likely:
        return 0
    lows = sorted({x for x, _y, _m in likely})
    known = set()
    for begin in range(0, len(lows), 5000):
        known |= {(x, y) for x, y in session.execute(select(
            DuplicateCandidate.low_id, DuplicateCandidate.high_id).where(
            DuplicateCandidate.low_id.in_(lows[begin:begin + 5000])))}
    now = _now()
    rows = [{"low_id": x, "high_id": y, "score": m.score, "reasons": list(m.reasons),
             "location_id": locations[x], "status": "open", "found_by": "batch",
             "found_at": now} for x, y, m in likely if (x, y) not in known]
    if rows:
        session.execute(insert(DuplicateCandidate.__table__), rows)
    return len(rows)


def list_candidates(session: Session, actor: StaffUser, *, status: str = "open",
                    limit: int = 200) -> list[DuplicateCandidate]:
    """Candidate pairs of the areas the actor reviews, best first."""
    rows = session.scalars(select(DuplicateCandidate).where(DuplicateCandidate.status == status)
                           .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
                           .limit(limit * 4))
    out, scopes = [], {}
    for row in rows:
        if row.location_id not in scopes:
            scopes[row.location_id] = _scope(session, row.location_id)
        if access.can(actor, "duplicate.review", scopes[row.location_id]):
            out.append(row)
        if len(out) >= limit:
            break
    return out


def _candidate(session: Session, candidate_id: int) -> DuplicateCandidate:
    row = session.get(DuplicateCandidate, candidate_id, with_for_update=True)
    if row is None:
        raise NotFound(_("No such duplicate candidate."), code="candidate_not_found")
    return row


def mark_distinct(session: Session, actor: StaffUser, candidate_id: int,
                  note: str = "") -> DuplicateCandidate:
    """Two records are two people: the pair is not proposed again."""
    row = _candidate(session, candidate_id)
    for person_id in (row.low_id, row.high_id):
        _check(session, actor, "duplicate.review", session.get(Beneficiary, person_id))
    if row.status != "open":
        raise Conflict(_("This pair has already been decided."), code="already_decided")
    row.status, row.decided_by, row.decided_at = "distinct", actor.username, _now()
    audit.record(session, "duplicates.distinct", "duplicate_candidate", row.id,
                 place=audit.at(row.location_id), low=row.low_id, high=row.high_id, note=" ".join(note.split())[:500])
    session.commit()
    return row
