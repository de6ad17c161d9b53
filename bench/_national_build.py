"""The national-size database of bench/national.py, grown step by step (not a benchmark
itself). Rows are the ones the app would have written: citizen accounts; beneficiaries with
the reference ID's Verhoeff digit, the ID number HMAC-hashed under the instance's
ID_HASH_KEY and Fernet-encrypted under its ENCRYPTION_KEYS (the app's own Keyring), a secret
code encrypted likewise; ID-exempt children registered by a health worker with a guardian,
their area and home facility; doses of the India pack's products (COVID-19 doses of adults
in 2021-2022, the UIP contacts of children, as bench/due_list.py draws them); appointments;
facilities, sessions, dose capacities and slots; the dose tally counted from the doses.

Shape (person i, 0-based, the same at every size so that a smaller database is the start of
a larger one): 100 people per home facility (facility i // 100); 125 facilities per
district (the pack's 50 districts first, then synthetic ones under its states: 100,000
centres give 800 districts, as CoWIN's ~750); 8 % of people are children under 6 (UIP
schedules), the rest adults; 2.5 people per account; facilities max(250, n / 100), each
with a session on each of 10 days (4 past, today, 5 to come), so sessions are 10 x
facilities; one appointment per second adult (booked on a coming session for the next
dose, or cancelled on a past one); accounts, people and doses COPied from this process,
facilities, sessions, capacities and slots inserted with generate_series on the server;
columns named, so the layout of the tables (partitioned or not) does not matter.
"""

from __future__ import annotations

import random
import time
import zoneinfo
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from due_list import CONTACTS, SERIES

PER_FACILITY = 100          # people per home facility
FACILITIES_PER_DISTRICT = 125
MIN_FACILITIES = 250
DAYS = range(-4, 6)         # session days around the build's day
CHILD_EVERY = 25            # person i is a child when i % 25 in CHILD_SLOTS (8 %)
CHILD_SLOTS = (3, 11)
PER_ACCOUNT_NUM, PER_ACCOUNT_DEN = 2, 5   # account of person i: i * 2 // 5 (2.5 a household)
CHUNK = 100_000
ZONE = zoneinfo.ZoneInfo("Asia/Kolkata")


def facilities_for(people: int) -> int:
    return max(MIN_FACILITIES, people // PER_FACILITY)


def is_child(i: int) -> bool:
    return i % CHILD_EVERY in CHILD_SLOTS


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    n = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


class Builder:
    """Grows one database: ``grow(n)`` adds people ``built..n-1`` and what goes with them."""

    def __init__(self, connection, keyring, today: date, log: Callable[[str], None]):
        self.db = connection
        self.ring = keyring
        self.today = today
        self.log = log
        self.people = 0
        self.facilities = 0
        self.max_dose_id = 0
        cur = connection.cursor()
        cur.execute("SELECT code, id FROM vaccine_product")
        self.products = dict(cur.fetchall())
        cur.execute("SELECT code, id FROM gender")
        self.genders = dict(cur.fetchall())
        cur.execute("SELECT id FROM id_document_type WHERE code = 'aadhaar'")
        self.aadhaar = cur.fetchone()[0]
        cur.execute("SELECT id FROM location WHERE level = 1 ORDER BY id")
        self.states = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id FROM location WHERE level = 2 ORDER BY id")
        self.districts = [r[0] for r in cur.fetchall()]
        self.pack_districts = len(self.districts)
        self.facility_ids: dict[int, int] = {}
        self.facility_location: dict[int, int] = {}
        connection.commit()

    # --- places and sessions (server side) ----------------------------------------------

    def _grow_places(self, facilities: int) -> None:
        cur = self.db.cursor()
        needed = -(-facilities // FACILITIES_PER_DISTRICT)
        if needed > len(self.districts):
            start = len(self.districts)
            cur.execute("""
                INSERT INTO location (code, parent_id, level, name, names)
                SELECT 'IN-N-' || i, (%(states)s::int[])[1 + i %% %(k)s], 2,
                       'Synthetic District ' || i, '{}'::jsonb
                FROM generate_series(%(a)s::int, %(b)s::int - 1) AS i""",
                        {"states": self.states, "k": len(self.states), "a": start, "b": needed})
            cur.execute("SELECT id FROM location WHERE level = 2 AND code LIKE 'IN-N-%%' "
                        "ORDER BY substr(code, 6)::int")
            self.districts = self.districts[:self.pack_districts] + [r[0] for r in cur]
        first = self.facilities
        cur.execute("""
            INSERT INTO facility (code, name, names, location_id, address, postal_code,
                                  latitude, longitude, facility_type, fee_type, opens_at,
                                  closes_at, created_at)
            SELECT 'NF' || lpad(i::text, 7, '0'), 'Centre ' || i, '{}'::jsonb,
                   (%(d)s::int[])[1 + i / %(per)s], i || ' Hospital Road',
                   (110001 + i / 5)::text, 8 + (i %% 2800) / 100.0, 68 + (i %% 2900) / 100.0,
                   CASE WHEN i %% 10 = 0 THEN 'private' ELSE 'public' END,
                   CASE WHEN i %% 10 = 0 THEN 'Paid' ELSE 'Free' END, '09:00', '17:00', now()
            FROM generate_series(%(a)s::int, %(b)s::int - 1) AS i""",
                    {"d": self.districts, "per": FACILITIES_PER_DISTRICT, "a": first,
                     "b": facilities})
        cur.execute("""
            INSERT INTO vaccination_session (id, facility_id, session_date, product_id,
                                             min_age, max_age, fee, status, created_at)
            SELECT gen_random_uuid()::text, f.id, %(today)s::date + day,
                   CASE WHEN f.id %% 7 = 0 THEN %(covaxin)s ELSE %(covishield)s END,
                   CASE WHEN f.id %% 4 = 0 THEN 45 ELSE 18 END, NULL,
                   CASE WHEN f.fee_type = 'Paid' THEN 250 ELSE 0 END, 'published', now()
            FROM generate_series(%(d0)s::int, %(d1)s::int) AS day
            CROSS JOIN facility f
            WHERE f.code >= 'NF' || lpad(%(a)s::text, 7, '0')
              AND f.code < 'NF' || lpad(%(b)s::text, 7, '0')
            ORDER BY day, f.id""",
                    {"today": self.today, "d0": DAYS.start, "d1": DAYS.stop - 1, "a": first,
                     "b": facilities, "covaxin": self.products["COVAXIN"],
                     "covishield": self.products["COVISHIELD"]})
        new_sessions = """SELECT s.id FROM vaccination_session s JOIN facility f
                          ON f.id = s.facility_id
                          WHERE f.code >= 'NF' || lpad(%(a)s::text, 7, '0')
                            AND f.code < 'NF' || lpad(%(b)s::text, 7, '0')"""
        cur.execute(f"""
            INSERT INTO session_dose_capacity (session_id, dose_number, capacity, booked)
            SELECT id, dose, CASE dose WHEN 1 THEN 100 ELSE 50 END, 0
            FROM ({new_sessions}) s CROSS JOIN (VALUES (1), (2)) AS d(dose)""",
                    {"a": first, "b": facilities})
        cur.execute(f"""
            INSERT INTO session_slot (session_id, starts_at, ends_at, capacity, booked)
            SELECT id, t.s, t.e, 50, 0 FROM ({new_sessions}) s
            CROSS JOIN (VALUES (TIME '09:00', TIME '11:00'), (TIME '11:00', TIME '13:00'),
                               (TIME '14:00', TIME '16:00')) AS t(s, e)""",
                    {"a": first, "b": facilities})
        cur.execute("SELECT substr(code, 3)::int, id, location_id FROM facility "
                    "WHERE code >= 'NF' || lpad(%(a)s::text, 7, '0') "
                    "AND code < 'NF' || lpad(%(b)s::text, 7, '0')",
                    {"a": first, "b": facilities})
        for index, fid, location in cur:
            self.facility_ids[index] = fid
            self.facility_location[index] = location
        self.facilities = facilities
        self.db.commit()

    def _sessions_of(self, first: int, last: int) -> dict[tuple[int, int], tuple[str, int]]:
        """(facility index, day offset) -> (session id, first slot id), facilities
        ``first..last`` (indexes)."""
        cur = self.db.cursor()
        cur.execute("""
            SELECT substr(f.code, 3)::int, s.session_date - %(today)s::date, s.id,
                   (SELECT min(sl.id) FROM session_slot sl WHERE sl.session_id = s.id)
            FROM facility f JOIN vaccination_session s ON s.facility_id = f.id
            WHERE f.code >= 'NF' || lpad(%(a)s::text, 7, '0')
              AND f.code <= 'NF' || lpad(%(b)s::text, 7, '0')""",
                    {"today": self.today, "a": first, "b": last})
        return {(r[0], r[1]): (r[2], r[3]) for r in cur}

    # --- people, doses, appointments (COPY) -------------------------------------------

    def _people_rows(self, lo: int, hi: int, now: datetime, rng: random.Random,
                     sessions: dict, doses: list, appointments: list):
        from cowin_kit.registration.rules import new_secret_code
        from stdnum import verhoeff

        ring = self.ring
        genders = (self.genders["M"], self.genders["F"])
        other = self.genders.get("T", genders[0])
        covid = [(self.products["COVISHIELD"], 0.80), (self.products["COVAXIN"], 0.95),
                 (self.products["CORBEVAX"], 1.0)]
        start_2021 = date(2021, 1, 16)
        for i in range(lo, hi):
            body = str(2 * 10**12 + i)
            reference = body + verhoeff.calc_check_digit(body)
            home = i // PER_FACILITY
            account = 1 + i * PER_ACCOUNT_NUM // PER_ACCOUNT_DEN
            gender = other if i % 997 == 0 else genders[i % 2]
            secret = ring.encrypt(new_secret_code())
            if is_child(i):
                born = self.today - timedelta(days=rng.randrange(0, 6 * 365))
                location = self.facility_location[home]
                yield (i + 1, reference, account, f"Child {i}", born.year, born, gender,
                       None, None, None, None, False, "v1", secret, 0, f"Guardian {i}",
                       "mother", location, self.facility_ids[home], "anm.bench", now, now)
                self._child_doses(i + 1, born, home, rng, now, doses)
                continue
            number_body = str(30_000_000_000 + i)
            number = number_body + verhoeff.calc_check_digit(number_body)
            year = self.today.year - 18 - int(rng.triangular(0, 67, 10))
            yield (i + 1, reference, account, f"Person {i}", year, None, gender,
                   self.aadhaar, ring.lookup_hash("id:aadhaar", number), ring.encrypt(number),
                   number[-4:], i % 7 == 0, "v1", secret, 0, None, None, None, None, "", now,
                   now)
            draw = rng.random()
            given = 0 if draw < 0.15 else 1 if draw < 0.40 else 2 if draw < 0.95 else 3
            pick = rng.random()
            product = next(p for p, edge in covid if pick < edge)
            first = start_2021 + timedelta(days=int(rng.triangular(0, 500, 150)))
            moments = [first, first + timedelta(days=84 + rng.randrange(30)),
                       first + timedelta(days=300 + rng.randrange(200))]
            for n in range(given):
                day = min(moments[n], self.today - timedelta(days=1))
                at = datetime(day.year, day.month, day.day, 4 + rng.randrange(10),
                              rng.randrange(60), tzinfo=timezone.utc)
                doses.append((i + 1, "", n + 1, product, at, "4121Z005", self.facility_ids[home],
                              "Bench Vaccinator", at, "recorded"))
            if i % 2 == 0 and given < 3:
                if i % 4 == 0:
                    offset, status = 1 + i % 5, "booked"
                else:
                    offset, status = -1 - i % 4, "cancelled"
                session, slot = sessions[(home, offset)]
                created = now - timedelta(days=3)
                appointments.append((f"{i:08d}-0000-4000-8000-{i:012d}",
                                     f"{account:08d}-0000-4000-8000-{i:012d}", i + 1, session,
                                     slot, given + 1, status, 0, account, created, created))

    def _child_doses(self, pid: int, born: date, home: int, rng: random.Random,
                     now: datetime, doses: list) -> None:
        on_track = True
        counts: dict[str, int] = {}
        for age, given, chance in CONTACTS:
            if rng.random() >= (chance if on_track else chance * 0.5):
                on_track = False
                continue
            day = born + timedelta(days=age + rng.randrange(0, 46))
            day += timedelta(days=(2 - day.weekday()) % 7)  # the next Wednesday
            if day >= self.today:
                break
            moment = datetime(day.year, day.month, day.day, 5, tzinfo=timezone.utc)
            for code in given:
                series = SERIES[code]
                counts[series] = counts.get(series, 0) + 1
                doses.append((pid, series, counts[series], self.products[code], moment, "L1",
                              self.facility_ids[home], "ANM Bench", moment, "recorded"))

    def grow(self, people: int) -> dict[str, Any]:
        """Add people up to ``people`` (and the facilities, sessions, doses, appointments,
        tally rows that go with them); the seconds of each phase."""
        timings: dict[str, float] = {}
        started = time.monotonic()
        cur = self.db.cursor()
        cur.execute("SELECT coalesce(max(id), 0) FROM dose")
        self.max_dose_id = cur.fetchone()[0]  # doses above it are this step's
        self._grow_places(facilities_for(people))
        timings["places_sessions"] = round(time.monotonic() - started, 1)
        now = datetime.now(timezone.utc)
        copy_s = 0.0
        counts = {"people": 0, "accounts": 0, "doses": 0, "appointments": 0}
        for lo in range(self.people, people, CHUNK):
            hi = min(people, lo + CHUNK)
            t0 = time.monotonic()
            rng = random.Random(lo)
            # the account of person lo may have been made with the previous chunk
            first_account = (1 + (lo - 1) * PER_ACCOUNT_NUM // PER_ACCOUNT_DEN + 1) if lo else 1
            last_account = 1 + (hi - 1) * PER_ACCOUNT_NUM // PER_ACCOUNT_DEN
            counts["accounts"] += _copy(
                cur, "citizen_account", ["id", "mobile", "locale", "created_at"],
                ((a, f"+919{a:09d}", "hi" if a % 3 else "en", now)
                 for a in range(first_account, last_account + 1)))
            sessions = self._sessions_of(lo // PER_FACILITY, (hi - 1) // PER_FACILITY)
            doses: list = []
            appointments: list = []
            counts["people"] += _copy(
                cur, "beneficiary",
                ["id", "reference_id", "account_id", "name", "birth_year", "birth_date",
                 "gender_id", "id_type_id", "id_number_hash", "id_number_encrypted",
                 "id_number_last4", "comorbidity", "consent_version", "secret_code_encrypted",
                 "secret_code_failures", "guardian_name", "guardian_relation", "location_id",
                 "facility_id", "registered_by", "created_at", "updated_at"],
                self._people_rows(lo, hi, now, rng, sessions, doses, appointments))
            counts["doses"] += _copy(
                cur, "dose", ["beneficiary_id", "series", "dose_number", "product_id",
                              "administered_at", "lot", "facility_id", "vaccinator",
                              "recorded_at", "source"], doses)
            counts["appointments"] += _copy(
                cur, "appointment", ["id", "booking_id", "beneficiary_id", "session_id",
                                     "slot_id", "dose_number", "status", "reschedule_count",
                                     "account_id", "created_at", "updated_at"], appointments)
            self.db.commit()
            copy_s += time.monotonic() - t0
            if (hi // CHUNK) % 10 == 0 or hi == people:
                self.log(f"  {hi:,} people copied ({copy_s:.0f} s)")
        timings["copy_people_doses_appointments"] = round(copy_s, 1)
        for table in ("citizen_account", "beneficiary"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))")
        t0 = time.monotonic()
        self._seat_counters(cur, self.people, people)
        timings["seat_counters"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        self._tally(cur)
        timings["dose_tally"] = round(time.monotonic() - t0, 1)
        self.db.commit()
        self.people = people
        timings["total"] = round(time.monotonic() - started, 1)
        return {"seconds": timings, "added": counts}

    def _seat_counters(self, cur, lo: int, hi: int) -> None:
        """Booked seats of the sessions this step's appointments are on = their live
        appointments (the counters the app keeps)."""
        touched = ("SELECT DISTINCT session_id FROM appointment "
                   "WHERE beneficiary_id > %(lo)s AND beneficiary_id <= %(hi)s")
        cur.execute(f"""
            UPDATE session_dose_capacity c SET booked = x.n
            FROM (SELECT session_id, dose_number, count(*) AS n FROM appointment
                  WHERE status = 'booked' AND session_id IN ({touched}) GROUP BY 1, 2) x
            WHERE c.session_id = x.session_id AND c.dose_number = x.dose_number""",
                    {"lo": lo, "hi": hi})
        cur.execute(f"""
            UPDATE session_slot s SET booked = x.n
            FROM (SELECT slot_id, count(*) AS n FROM appointment
                  WHERE status = 'booked' AND session_id IN ({touched}) GROUP BY 1) x
            WHERE s.id = x.slot_id""", {"lo": lo, "hi": hi})

    def _tally(self, cur) -> None:
        """Count the doses added since the last step into dose_tally and dose_total, keyed
        as cowin_kit.registration.tally.key_of keys a dose (day in the pack's zone, place of
        the facility, product, series, dose number, sex, age group at the dose)."""
        cur.execute("SELECT coalesce(max(id), 0) FROM dose")
        top = cur.fetchone()[0]
        # the doses COPied by this step (ids above max_dose_id; the app's own doses, recorded
        # while measuring, were counted by the app)
        keyed = f"""
            SELECT day, loc AS location_id, product_id, series, dose_number, gender_id,
                   CASE WHEN years < 20 THEN years ELSE least(85, years - years %% 5) END AS age
            FROM (SELECT (d.administered_at AT TIME ZONE '{ZONE.key}')::date AS day,
                         coalesce(f.location_id, 0) AS loc, d.product_id, d.series,
                         d.dose_number, b.gender_id,
                         greatest(0, least(120, CASE WHEN b.birth_date IS NOT NULL
                             THEN date_part('year', age((d.administered_at
                                  AT TIME ZONE '{ZONE.key}')::date, b.birth_date))::int
                             ELSE date_part('year', (d.administered_at
                                  AT TIME ZONE '{ZONE.key}'))::int - b.birth_year END))
                             AS years
                  FROM dose d JOIN beneficiary b ON b.id = d.beneficiary_id
                  LEFT JOIN facility f ON f.id = d.facility_id
                  WHERE d.id > %(lo)s AND d.id <= %(hi)s) k"""
        cur.execute(f"""
            INSERT INTO dose_tally (day, location_id, product_id, series, dose_number,
                                    gender_id, age, count)
            SELECT day, location_id, product_id, series, dose_number, gender_id, age, count(*)
            FROM ({keyed}) t GROUP BY 1, 2, 3, 4, 5, 6, 7
            ON CONFLICT (day, location_id, product_id, series, dose_number, gender_id, age)
            DO UPDATE SET count = dose_tally.count + excluded.count""",
                    {"lo": self.max_dose_id, "hi": top})
        cur.execute(f"""
            INSERT INTO dose_total (location_id, product_id, series, dose_number, gender_id,
                                    age, count)
            SELECT location_id, product_id, series, dose_number, gender_id, age, count(*)
            FROM ({keyed}) t GROUP BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (location_id, product_id, series, dose_number, gender_id, age)
            DO UPDATE SET count = dose_total.count + excluded.count""",
                    {"lo": self.max_dose_id, "hi": top})
