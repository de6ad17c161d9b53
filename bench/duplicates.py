"""Duplicate people benchmark: PEOPLE people (default 1,000,000) on PostgreSQL with the
India pack, about 1% of them a second record of someone else (typed again with a typo, the
words swapped, the birth year one off, another mobile), then

1. the full batch run (`cowin_kit.corrections.services.scan`, what
   `cowin-kit people duplicates` runs): matching keys for every person, then every pair
   sharing a key or a mobile scored once; its wall time, pairs compared, candidates found
   and how many of the planted duplicates they include (recall);
2. the live check of a new registration (`check_new_person`, what the
   ``person_registered`` receiver runs inside the registration's transaction): NEW people
   registered one by one, each a duplicate of an existing person every other time; time
   per registration (p50, p95, p99, max) and how many planted duplicates were flagged.

    .venv/bin/python bench/duplicates.py [--people 1000000] [--new 1000] [--json out.json]

Data (bulk-inserted with COPY): names from 160 given names x 120 family names of India
(transliterated, both spellings where common), birth dates over 0-80 years, two people
per household account, children below 5 with a guardian.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    DEFAULT_SERVER_URL, BenchInstance, dump_json, log, percentile, wait_for_quiet_machine,
)

DISTRICT = "IN-KL-TVM"
GIVEN = ("""aarav aditya akash amit anand anil anjali ankit anita anu arjun arun asha ashok
 ayesha bharat bhavna chandra deepa deepak devi dinesh divya farhan fatima ganesh gaurav
 geeta gopal govind hari harish hema imran indira irfan jaya jyoti kamala karan kavita
 kiran krishna kumar lakshmi lalita latha madhu mahesh manoj meena mohan mohammed mukesh
 nadia naveen neha nikhil nisha pankaj pooja prakash pradeep priya rahul raj rajesh raju
 ramesh rani ravi rekha rohit sachin sagar sanjay santosh sara sarita seema shabana shankar
 sharmila shiva shreya sita sneha sonia srinivas subhash sudha sunil sunita suresh swati
 tanvi uma usha varun vijay vikram vinod vishal yash zara zoya abdul aisha alok amar
 amrita ananya aparna arvind bala chitra dev durga gita hemant jagdish jatin kalpana
 kishore leela madhavi mala manisha mira nandini naresh padma pallavi parvati prem radha
 rajiv rama ranjit ritu sameer sandeep sangeeta satish shanti shobha sudhir sujata sumit
 tara tarun vandana vasanthi venkat vidya vimala yamuna yogesh""").split()
FAMILY = ("""sharma verma gupta singh kumar yadav patel shah mehta joshi nair menon pillai
 iyer iyengar reddy rao naidu chowdhury das dutta ghosh bose banerjee chatterjee mukherjee
 sen roy mishra pandey tiwari dubey shukla tripathi chauhan rathore thakur jain agarwal
 bansal goyal mittal kapoor khanna malhotra chopra bhatia sethi arora ahuja gill sandhu
 dhillon grewal khan ansari qureshi siddiqui shaikh syed pathan mirza hussain rizvi
 fernandes dsouza pereira rodrigues gomes lobo kurian thomas varghese mathew george
 jacob joseph abraham chacko kulkarni deshpande patil pawar jadhav shinde gaikwad more
 kale salunkhe naik hegde shetty kamath bhat pai prabhu gowda murthy swamy krishnan
 raman subramanian natarajan rajan venkatesan sundaram balan mohan lal prasad paswan
 manjhi mandal sahu behera mohanty panda nayak pradhan swain barik majhi tudu hansda
 murmu soren kisku baskey""").split()


def typo(rng: random.Random, word: str) -> str:
    """One slip of the keyboard or the ear: a letter changed, dropped, doubled or two
    swapped."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + rng.choice("aeiouy") + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def variant(rng: random.Random, name: str) -> str:
    words = name.split()
    roll = rng.random()
    if roll < 0.5:
        k = rng.randrange(len(words))
        words[k] = typo(rng, words[k].lower()).capitalize()
    elif roll < 0.7:
        words.reverse()
    elif roll < 0.85:
        words = [w.upper() for w in words]
    return " ".join(words)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def make_person(rng: random.Random, today: date) -> tuple[str, date, int]:
    name = f"{rng.choice(GIVEN).capitalize()} {rng.choice(FAMILY).capitalize()}"
    born = today - timedelta(days=rng.randrange(0, 80 * 365))
    return name, born, rng.randrange(2)


def populate(database_url: str, people: int, today: date, new: int, seed: int = 17) -> dict:
    """Accounts and people, about 1% of them planted duplicates; the planted pairs."""
    import psycopg
    from sqlalchemy.engine import make_url

    rng = random.Random(seed)
    url = make_url(database_url).set(drivername="postgresql")
    now = datetime.now(timezone.utc)
    planted: list[tuple[int, int]] = []
    with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id FROM location WHERE code = %s", (DISTRICT,))
        location_id = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM gender ORDER BY id LIMIT 2")
        genders = [row[0] for row in cursor.fetchall()]
        households = (people + 1) // 2 + people // 50 + new + 10
        _copy(cursor, "citizen_account", ["id", "mobile", "locale", "created_at"],
              ((h + 1, f"+9196{h:08d}", "hi", now) for h in range(households)))
        rows = []
        facts: list[tuple[str, date, int, str | None]] = []
        next_extra_account = (people + 1) // 2 + 1
        for n in range(people):
            pid = n + 1
            if n > 1000 and rng.random() < 0.01:   # a second record of an earlier person
                original = rng.randrange(n - 1000) + 1
                name, born, sex, guardian = facts[original - 1]
                name = variant(rng, name)
                if rng.random() < 0.2:
                    born = born.replace(year=born.year + rng.choice((-1, 1))) \
                        if not (born.month == 2 and born.day == 29) else born
                account = next_extra_account
                next_extra_account += 1
                planted.append((original, pid))
            else:
                name, born, sex = make_person(rng, today)
                guardian = f"{rng.choice(GIVEN).capitalize()} {name.split()[-1]}" \
                    if (today - born).days < 5 * 365 else None
                account = n // 2 + 1
            facts.append((name, born, sex, guardian))
            rows.append((pid, f"{80000000000000 + n:014d}", account, name, born.year, born,
                         genders[sex], "bench", "x", location_id, now, now, False, 0,
                         guardian))
        _copy(cursor, "beneficiary",
              ["id", "reference_id", "account_id", "name", "birth_year", "birth_date",
               "gender_id", "consent_version", "secret_code_encrypted", "location_id",
               "created_at", "updated_at", "comorbidity", "secret_code_failures",
               "guardian_name"], rows)
        for table in ("citizen_account", "beneficiary"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
            cursor.execute(f"ANALYZE {table}")
        connection.commit()
    return {"people": people, "planted": planted, "facts": facts,
            "next_account": next_extra_account}


def _app(instance: BenchInstance):
    os.environ.update(instance.env)
    from cowin_kit import create_app

    return create_app()


def time_batch(app, planted: list[tuple[int, int]]) -> dict:
    from sqlalchemy import select

    from cowin_kit.core.db import get_database
    from cowin_kit.corrections import services
    from cowin_kit.corrections.models import DuplicateCandidate

    wait_for_quiet_machine()
    stages: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if done >= total:
            stages[stage] = time.perf_counter() - started

    with app.app_context(), get_database(app).session() as session:
        started = time.perf_counter()
        result = services.scan(session, progress=progress)
        seconds = time.perf_counter() - started
        found = {(low, high) for low, high in session.execute(
            select(DuplicateCandidate.low_id, DuplicateCandidate.high_id))}
    caught = sum(1 for pair in planted if tuple(sorted(pair)) in found)
    log(f"batch: {seconds:.1f} s (keys {stages.get('keys', 0):.1f} s), {result.pairs} pairs "
        f"compared, {result.new_candidates} candidates, {caught}/{len(planted)} planted found")
    return {"seconds": round(seconds, 1), "keys_seconds": round(stages.get("keys", 0), 1),
            "pairs_compared": result.pairs, "candidates": result.new_candidates,
            "planted": len(planted), "planted_found": caught,
            "recall": round(caught / max(1, len(planted)), 4),
            "candidates_not_planted": result.new_candidates - caught}


def time_live(app, facts, first_account: int, new: int, seed: int = 23) -> dict:
    from cowin_kit.core.db import get_database
    from cowin_kit.corrections import services
    from cowin_kit.registration.models import Beneficiary

    rng = random.Random(seed)
    today = date.today()
    seconds: list[float] = []
    flagged = planted = 0
    wait_for_quiet_machine()
    with app.app_context(), get_database(app).session() as session:
        genders = sorted({g for (g,) in session.execute(
            Beneficiary.__table__.select().with_only_columns(Beneficiary.gender_id)
            .distinct())})
        for n in range(new):
            duplicate = n % 2 == 0
            if duplicate:
                name, born, sex, guardian = facts[rng.randrange(len(facts))]
                name = variant(rng, name)
                planted += 1
            else:
                name, born, sex = make_person(rng, today)
                guardian = None
            person = Beneficiary(
                reference_id=f"{90000000000000 + n:014d}", account_id=first_account + n,
                name=name, birth_year=born.year, birth_date=born,
                gender_id=genders[sex % len(genders)], consent_version="bench",
                secret_code_encrypted="x", guardian_name=guardian)
            session.add(person)
            session.flush()
            started = time.perf_counter()
            found = services.check_new_person(session, person)
            seconds.append(time.perf_counter() - started)
            session.commit()
            if duplicate and found:
                flagged += 1
    ordered = sorted(seconds)
    out = {"registrations": new, "p50_ms": round(percentile(ordered, 0.5) * 1000, 2),
           "p95_ms": round(percentile(ordered, 0.95) * 1000, 2),
           "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
           "max_ms": round(ordered[-1] * 1000, 2),
           "mean_ms": round(statistics.fmean(seconds) * 1000, 2),
           "planted": planted, "planted_flagged": flagged}
    log(f"live: p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms per registration; "
        f"{flagged}/{planted} planted duplicates flagged")
    return out


def run(args: argparse.Namespace) -> dict:
    today = date.today()
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        started = time.perf_counter()
        data = populate(instance.database_url, args.people, today, args.new)
        log(f"populated {args.people} people ({len(data['planted'])} planted duplicates) in "
            f"{time.perf_counter() - started:.0f} s")
        app = _app(instance)
        batch = time_batch(app, data["planted"])
        live = time_live(app, data["facts"], data["next_account"], args.new)
        from sqlalchemy import text

        from cowin_kit.core.db import get_database
        with app.app_context(), get_database(app).session() as session:
            keys = session.execute(text("SELECT count(*) FROM person_match_key")).scalar()
        get_database(app).dispose()
    return {"people": args.people, "match_keys": keys, "batch": batch, "live": live}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    try:
        results = run(args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(f"FAILED: {exc}")
        return 1
    print(json.dumps(results, indent=2))
    dump_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
