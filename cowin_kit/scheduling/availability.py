"""Public availability: the published sessions with free seats by place, postal code or
position (API, pages and slot alerts), centre listings, and locations as paths of places.

The search reads plain rows (Core selects of the columns it shows, no ORM objects and no
identity map) into the small slotted classes below, which carry the attribute names of
the models that the API views, the pages and the slot alerts read. An answer of a
district (about 133 sessions, 400 slots) built ORM objects for about half of its time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack, active_pack
from cowin_kit.core.errors import NotFound
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.postal import postal_code_locations
from cowin_kit.core.i18n import gettext as _
from cowin_kit.programme import catalogue
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.scheduling import rules
from cowin_kit.scheduling.models import SessionDoseCapacity, SessionSlot, VaccinationSession


@dataclass(slots=True, eq=False)
class Place:
    """A location as the search shows it (a copy of its row). Places are kept per snapshot
    of the installed pack (see _places_memo): locations change only with a pack install."""
    id: int
    code: str
    parent_id: int | None
    level: int
    name: str
    names: dict[str, str]

    def localized_name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get(locale.split("_")[0]) or self.name


@dataclass(slots=True, eq=False)
class FacilityRow:
    """The facility columns of a search answer (a row, not a Facility object)."""
    id: int
    code: str
    name: str
    names_json: str | None             # ``names`` as the database's JSON text
    location_id: int
    address: str
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    facility_type: str
    fee_type: str
    opens_at: time | None
    closes_at: time | None

    @property
    def names(self) -> dict[str, str]:
        return _json_names(self.names_json)


_NAMES: dict[str, dict[str, str]] = {}


def _json_names(text: str | None) -> dict[str, str] | None:
    """A names document decoded once per process: most facilities share a few (often
    ``{}``), and decoding each row's copy was a good part of a search's cost. The dicts
    are shared, so they are read, never changed."""
    if text is None:
        return None
    names = _NAMES.get(text)
    if names is None:
        if len(_NAMES) >= 4096:  # arbitrary names cannot grow it without bound
            _NAMES.clear()
        names = _NAMES[text] = json.loads(text)
    return names


@dataclass(slots=True, eq=False)
class SessionRow:
    """The vaccination session columns of a search answer."""
    id: str
    facility_id: int
    session_date: date
    product_id: int
    min_age: int
    max_age: int | None
    fee: Decimal
    status: str


@dataclass(slots=True, eq=False)
class SlotRow:
    """A session's time slot in a search answer; ``label`` as SessionSlot.label, and
    ``cowin_label`` as CoWIN spells it (rules.cowin_slot_label)."""
    id: int
    session_id: str
    starts_at: time
    ends_at: time
    capacity: int
    booked: int
    label: str
    cowin_label: str


@dataclass(slots=True)
class SessionAvailability:
    session: SessionRow
    product_code: str
    product_names: dict[str, str]
    available: dict[int, int]          # dose number -> seats left
    slots: list[SlotRow]

    @property
    def available_total(self) -> int:
        return sum(self.available.values())


@dataclass(slots=True)
class CentreAvailability:
    facility: FacilityRow | Facility   # a row from the search; views may pass a Facility
    path: list[Place]                  # level 1 .. the facility's location
    sessions: list[SessionAvailability] = field(default_factory=list)
    distance_km: float | None = None


_FACILITY = Facility.__table__.c
_SESSION = VaccinationSession.__table__.c
_SEATS = SessionDoseCapacity.__table__.c
_SLOT = SessionSlot.__table__.c
_LOCATION = Location.__table__.c
_FACILITY_COLUMNS = (_FACILITY.id, _FACILITY.code, _FACILITY.name,
                     cast(_FACILITY.names, Text).label("names_json"),
                     _FACILITY.location_id, _FACILITY.address, _FACILITY.postal_code,
                     _FACILITY.latitude, _FACILITY.longitude, _FACILITY.facility_type,
                     _FACILITY.fee_type, _FACILITY.opens_at, _FACILITY.closes_at)
_SESSION_COLUMNS = (_SESSION.id, _SESSION.facility_id, _SESSION.session_date,
                    _SESSION.product_id, _SESSION.min_age, _SESSION.max_age, _SESSION.fee,
                    _SESSION.status)
_N_SESSION = len(_SESSION_COLUMNS)
_ID_CHUNK = 1000
# Statements built once per process and database dialect (their compiled forms are then
# found in SQLAlchemy's cache without building them again); the searches by their filters.
_AVAILABILITY_STATEMENTS: dict[tuple, Any] = {}


def _one_of(column: Any, name: str, dialect: str, inline: bool = False) -> Any:
    """``column`` is one of the list bound as ``name``. On PostgreSQL ``= ANY(array)``: one
    parameter, so the statement's text is the same for every list (the driver converts and
    prepares it once, instead of an IN list of 133 placeholders rendered, parsed and
    planned per request). With ``inline`` (PostgreSQL) the values are written into the
    statement instead (a few ids or days): the search's plan depends on them, and a
    prepared statement's generic plan for "any of these places on any of these days" is
    a parallel scan of all sessions (80 ms), so it must never be used. Elsewhere an
    expanding IN."""
    if dialect == "postgresql" and not inline:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True,
                                literal_execute=inline and dialect == "postgresql"))


def _one_of_session_ids(column: Any, dialect: str) -> Any:
    """``column`` is one of the session ids bound as ``ids`` (see :func:`_session_ids`). On
    PostgreSQL the ids travel as one comma-separated text split by the server: psycopg
    converts a Python list of 133 strings into an array parameter in Python code, which
    cost more than the statement's own execution."""
    if dialect == "postgresql":
        return column == any_(func.string_to_array(bindparam("ids", type_=String), ","))
    return _one_of(column, "ids", dialect)


def _session_ids(ids: list[str], dialect: str) -> Any:
    """The ``ids`` parameter of :func:`_one_of_session_ids` (ids are UUIDs: no commas)."""
    return ",".join(ids) if dialect == "postgresql" else ids


def _availability_statement(dialect: str, name: str) -> Any:
    statement = _AVAILABILITY_STATEMENTS.get((dialect, name))
    if statement is not None:
        return statement
    if name == "place":
        statement = (select(_LOCATION.id, _LOCATION.code, _LOCATION.parent_id, _LOCATION.level,
                            _LOCATION.name, _LOCATION.names)
                     .where(_LOCATION.id == bindparam("place_id")))
    elif name == "children":
        statement = select(_LOCATION.id).where(_one_of(_LOCATION.parent_id, "parents", dialect))
    elif name == "seats":
        statement = (select(_SEATS.session_id, _SEATS.dose_number, _SEATS.capacity - _SEATS.booked)
                     .where(_one_of_session_ids(_SEATS.session_id, dialect)))
    elif name == "slots":
        statement = (select(_SLOT.id, _SLOT.session_id, _SLOT.starts_at, _SLOT.ends_at,
                            _SLOT.capacity, _SLOT.booked)
                     .where(_one_of_session_ids(_SLOT.session_id, dialect))
                     .order_by(_SLOT.starts_at))
    elif name == "near":
        statement = select(*_FACILITY_COLUMNS).where(
            _FACILITY.latitude.between(bindparam("lat_low"), bindparam("lat_high")),
            _FACILITY.longitude.between(bindparam("long_low"), bindparam("long_high")))
    else:
        raise KeyError(name)
    _AVAILABILITY_STATEMENTS[(dialect, name)] = statement
    return statement


def _search_statement(dialect: str, kind: str, by_place: bool, by_postal_code: bool,
                      by_postal_area: bool, by_ids: bool, by_fee: bool, by_product: bool,
                      by_age: bool) -> Any:
    """The facilities (``kind`` "facilities") or the published sessions on the days with
    their facilities ("sessions") that a search's filters select, built once per set of
    filters; the values are bound when it runs. ``by_postal_area``: a postal code search
    also takes the facilities in the places the pack's directory gives for the code."""
    key = (dialect, kind, by_place, by_postal_code, by_postal_area, by_ids, by_fee,
           by_product, by_age)
    statement = _AVAILABILITY_STATEMENTS.get(key)
    if statement is not None:
        return statement
    where = []
    if by_place:
        where.append(_one_of(_FACILITY.location_id, "places", dialect, inline=True))
    if by_postal_code and by_postal_area:
        where.append((_FACILITY.postal_code == bindparam("postal_code"))
                     | _one_of(_FACILITY.location_id, "postal_places", dialect, inline=True))
    elif by_postal_code:
        where.append(_FACILITY.postal_code == bindparam("postal_code"))
    if by_ids:
        where.append(_one_of(_FACILITY.id, "facility_ids", dialect, inline=True))
    if by_fee:
        where.append(_FACILITY.fee_type == bindparam("fee_type"))
    if kind == "facilities":
        statement = select(*_FACILITY_COLUMNS).where(*where).order_by(_FACILITY.id)
    else:
        where += [_one_of(_SESSION.session_date, "days", dialect, inline=True),
                  _SESSION.status == "published"]
        if by_product:
            products = VaccineProduct.__table__.c
            where.append(_SESSION.product_id.in_(
                select(products.id).where(products.code == bindparam("product_code"))
                .scalar_subquery()))
        if by_age:
            where += [_SESSION.min_age <= bindparam("age"),
                      _SESSION.max_age.is_(None) | (_SESSION.max_age >= bindparam("age"))]
        statement = (select(*_SESSION_COLUMNS, *_FACILITY_COLUMNS)
                     .join_from(VaccinationSession.__table__, Facility.__table__,
                                _FACILITY.id == _SESSION.facility_id)
                     .where(*where)
                     .order_by(_SESSION.facility_id, _SESSION.session_date))
    _AVAILABILITY_STATEMENTS[key] = statement
    return statement


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_SLOT_LABELS: dict[tuple[time, time], tuple[str, str]] = {}


def _slot_labels(starts_at: time, ends_at: time) -> tuple[str, str]:
    """(label, CoWIN label) of a slot's times, formatted once per process: sessions share
    a handful of slot times, and strftime is a good part of an answer's cost."""
    key = (starts_at, ends_at)
    labels = _SLOT_LABELS.get(key)
    if labels is None:
        if len(_SLOT_LABELS) >= 4096:  # arbitrary times cannot grow it without bound
            _SLOT_LABELS.clear()
        labels = _SLOT_LABELS[key] = (f"{starts_at:%H:%M}-{ends_at:%H:%M}",
                                      f"{starts_at:%I:%M%p}-{ends_at:%I:%M%p}")
    return labels


def _snapshot() -> ActivePack | None:
    try:
        return active_pack()
    except NotFound:  # no pack installed yet: nothing is kept
        return None


def _places_memo(pack: ActivePack | None, name: str) -> dict:
    """A dict kept with this snapshot of the installed pack (shared by the process's
    threads, dropped with the snapshot), or a new one for this call without a pack."""
    return pack.memo(("scheduling", name), dict) if pack is not None else {}


def place(session: Session, location_id: int, pack: ActivePack | None = None) -> Place | None:
    """The location ``location_id`` as a Place (None if there is none), read once per
    snapshot of the installed pack."""
    places = _places_memo(pack or _snapshot(), "places")
    found = places.get(location_id)
    if found is None:
        row = session.execute(_availability_statement(_dialect(session), "place"),
                              {"place_id": location_id}).first()
        if row is None:
            return None
        found = places[location_id] = Place(*row)
    return found


def descendant_location_ids(session: Session, location_id: int,
                            pack: ActivePack | None = None) -> list[int]:
    """The location and every place below it (one query per level, then kept per
    snapshot of the installed pack)."""
    known = _places_memo(pack or _snapshot(), "descendants")
    found = known.get(location_id)
    if found is None:
        children = _availability_statement(_dialect(session), "children")
        ids, frontier = [location_id], [location_id]
        while frontier:
            frontier = list(session.scalars(children, {"parents": frontier}))
            ids += frontier
        found = known[location_id] = tuple(ids)
    return list(found)


def _place_path(session: Session, location_id: int, pack: ActivePack | None) -> tuple[Place, ...]:
    paths = _places_memo(pack, "paths")
    path = paths.get(location_id)
    if path is None:
        here = place(session, location_id, pack)
        if here is None:
            return ()
        path = (() if here.parent_id is None
                else _place_path(session, here.parent_id, pack)) + (here,)
        paths[location_id] = path
    return path


def location_path(session: Session, location_id: int, cache: dict[int, list[Place]],
                  pack: ActivePack | None = None) -> list[Place]:
    """Level 1 .. the location, as Places; ``cache`` keeps the lists of one answer (the
    places themselves are kept per snapshot of the installed pack)."""
    path = cache.get(location_id)
    if path is None:
        path = cache[location_id] = list(_place_path(session, location_id,
                                                     pack or _snapshot()))
    return path


def _products(session: Session, pack: ActivePack | None, wanted: set[int]) -> dict[int, VaccineProduct]:
    products = {product.id: product for product in
                catalogue.products(session, pack)}
    if not wanted <= products.keys():  # a product installed after this snapshot was taken
        products = {product.id: product for product in session.scalars(select(VaccineProduct))}
    return products


def find_availability(session: Session, *, days: list[date], location_id: int | None = None,
                      postal_code: str | None = None, facility_ids: list[int] | None = None,
                      product_code: str | None = None, age: int | None = None,
                      dose: int | None = None, fee_type: str | None = None,
                      include_empty_centres: bool = False) -> list[CentreAvailability]:
    """Published sessions on ``days`` at the facilities selected by place, postal code or
    ids, filtered; grouped by facility in a stable order (facility id, then date).

    A postal code selects the facilities with that postal code and, when the pack's
    directory knows the code, every facility in the places it lies in (an Indian PIN:
    its district); the facilities at the code itself come first (rules.postal_code_rank)."""
    if session.autoflush:  # as the ORM queries this replaced would have
        session.flush()
    pack = _snapshot()
    dialect = _dialect(session)
    params: dict[str, Any] = {"postal_code": postal_code, "fee_type": fee_type,
                              "product_code": product_code, "age": age,
                              "days": list(days)}
    postal_places: list[int] = []
    if postal_code is not None:
        for area in postal_code_locations(session, postal_code, pack):
            postal_places += descendant_location_ids(session, area, pack)
        params["postal_places"] = sorted(set(postal_places))
    flags = (location_id is not None, postal_code is not None, bool(postal_places),
             facility_ids is not None, fee_type is not None)
    if location_id is not None:
        params["places"] = descendant_location_ids(session, location_id, pack)
    if facility_ids is not None:
        params["facility_ids"] = list(facility_ids)
        if not facility_ids:
            return []
    centres: dict[int, CentreAvailability] = {}
    paths: dict[int, list[Place]] = {}
    if include_empty_centres:
        for row in session.execute(_search_statement(dialect, "facilities", *flags, False, False),
                                   params):
            facility = FacilityRow(*row)
            centres[facility.id] = CentreAvailability(
                facility, location_path(session, facility.location_id, paths, pack))
    rows = session.execute(_search_statement(dialect, "sessions", *flags, product_code is not None,
                                             age is not None), params).all()
    if not rows:
        return _postal_code_first(list(centres.values()), postal_code, postal_places)
    ids = [row[0] for row in rows]
    capacities: dict[str, dict[int, int]] = {}
    slots: dict[str, list[SlotRow]] = {}
    # Two statements, not one UNION ALL: PostgreSQL plans that as a parallel append, and
    # starting its workers took 10 ms.
    seats_statement = _availability_statement(dialect, "seats")
    slots_statement = _availability_statement(dialect, "slots")
    for chunk_start in range(0, len(ids), _ID_CHUNK):
        chunk = {"ids": _session_ids(ids[chunk_start:chunk_start + _ID_CHUNK], dialect)}
        for session_id, dose_number, left in session.execute(seats_statement, chunk).all():
            seats = capacities.get(session_id)
            if seats is None:
                seats = capacities[session_id] = {}
            seats[dose_number] = left
        for slot_id, session_id, starts_at, ends_at, capacity, booked in session.execute(
                slots_statement, chunk).all():
            labels = _SLOT_LABELS.get((starts_at, ends_at)) or _slot_labels(starts_at, ends_at)
            slot = SlotRow(slot_id, session_id, starts_at, ends_at, capacity, booked, *labels)
            found = slots.get(session_id)
            if found is None:
                slots[session_id] = [slot]
            else:
                found.append(slot)
    products = {product_id: (product.code, product.names) for product_id, product in
                _products(session, pack, {row[3] for row in rows}).items()}
    centre = None
    for row in rows:
        session_id = row[0]
        available = capacities.get(session_id, {})
        if dose is not None and available.get(dose, 0) <= 0 and not include_empty_centres:
            continue
        facility_id = row[1]
        if centre is None or centre.facility.id != facility_id:
            centre = centres.get(facility_id)
            if centre is None:
                facility = FacilityRow(*row[_N_SESSION:])
                centre = centres[facility_id] = CentreAvailability(
                    facility, location_path(session, facility.location_id, paths, pack))
        product_code, product_names = products[row[3]]
        centre.sessions.append(SessionAvailability(
            SessionRow(*row[:_N_SESSION]), product_code, product_names, available,
            slots.get(session_id, [])))
    return _postal_code_first(list(centres.values()), postal_code, postal_places)


def _postal_code_first(centres: list[CentreAvailability], postal_code: str | None,
                       postal_places: list[int]) -> list[CentreAvailability]:
    if postal_code is None or not postal_places:
        return centres
    return sorted(centres, key=lambda c: rules.postal_code_rank(c.facility.postal_code,
                                                                postal_code))


def postal_code_area(session: Session, postal_code: str) -> list[Place]:
    """The places the installed pack's directory gives for ``postal_code`` (a PIN's
    district; rarely two); [] when the directory does not have it, and a search by it
    finds only the facilities registered with that very code."""
    pack = _snapshot()
    found = (place(session, location_id, pack)
             for location_id in postal_code_locations(session, postal_code, pack))
    return [item for item in found if item is not None]


def search(session: Session, query: dict[str, Any]) -> list[CentreAvailability]:
    """Centres with sessions for an availability query as the schemas load it (API and
    pages): ``location`` code, ``postal_code`` or ``lat``/``long``/``radius_km`` (nearest
    first), ``date`` and ``days``, optional ``vaccine``, ``age``, ``dose``, ``fee_type``."""
    days = [query["date"] + timedelta(days=n) for n in range(query["days"])]
    filters: dict[str, Any] = dict(days=days, product_code=query.get("vaccine"),
                                   age=query.get("age"), dose=query.get("dose"),
                                   fee_type=query.get("fee_type"))
    if "location" in query:
        location_id = session.scalar(select(Location.id).where(Location.code == query["location"]))
        if location_id is None:
            raise NotFound(_("No location with code %(code)s.", code=query["location"]),
                           code="location_not_found")
        return find_availability(session, location_id=location_id, **filters)
    if "postal_code" in query:
        return find_availability(session, postal_code=query["postal_code"], **filters)
    near = nearest_facilities(session, query["lat"], query["long"], radius_km=query["radius_km"])
    distances = {facility.id: km for facility, km in near}
    centres = find_availability(session, facility_ids=list(distances), **filters)
    for centre in centres:
        centre.distance_km = distances[centre.facility.id]
    return sorted(centres, key=lambda c: c.distance_km)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good to a few metres for this purpose."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def nearest_facilities(session: Session, latitude: float, longitude: float, *,
                       radius_km: float = 25.0, limit: int = 20) -> list[tuple[FacilityRow, float]]:
    """Facilities within ``radius_km``, nearest first (a bounding box in SQL, then the
    exact distance)."""
    dlat = radius_km / 111.0
    dlon = radius_km / max(1e-6, 111.0 * math.cos(math.radians(latitude)))
    if session.autoflush:
        session.flush()
    candidates = session.execute(_availability_statement(_dialect(session), "near"), {
        "lat_low": latitude - dlat, "lat_high": latitude + dlat,
        "long_low": longitude - dlon, "long_high": longitude + dlon})
    found = [(facility, _distance_km(latitude, longitude, facility.latitude, facility.longitude))
             for facility in (FacilityRow(*row) for row in candidates)]
    return sorted([item for item in found if item[1] <= radius_km], key=lambda x: x[1])[:limit]
