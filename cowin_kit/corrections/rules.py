"""Pure rules of corrections: how names are compared, the blocking keys that decide which
records are compared at all, the score of a candidate pair, which dose facts may be
corrected, the order of a merged record's doses, and service-level ages. No I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations
from typing import Any, Iterable, Sequence

from anyascii import anyascii

from cowin_kit.core.i18n import lazy_gettext

# --- names ------------------------------------------------------------------------------

# Words that say nothing about who someone is (titles, "baby of"); a name made only of
# them keeps them.
_NOISE = frozenset({"mr", "mrs", "ms", "miss", "dr", "shri", "smt", "kumari", "km", "baby",
                    "of", "bin", "binti", "bint", "ibn", "d", "o", "s", "w"})


def name_tokens(name: str) -> tuple[str, ...]:
    """The words of a name, transliterated to Latin letters (any script), lower case,
    letters only, titles dropped, sorted: the form every comparison works on."""
    text = anyascii(unicodedata.normalize("NFKC", name or "")).lower()
    words = ["".join(ch for ch in word if ch.isalpha())
             for word in text.replace("-", " ").replace(".", " ").split()]
    words = [w for w in words if w]
    kept = [w for w in words if w not in _NOISE] or words
    return tuple(sorted(kept))


def skeleton(token: str) -> str:
    """A coarse sound-alike code of one word: its first letter, then its consonants with
    h, y, w dropped and doubles collapsed, at most 5 letters ("mohammed", "muhamad" ->
    "mmd"; "priya", "pria" -> "pr")."""
    if not token:
        return ""
    folded = token.replace("ksh", "x").replace("ph", "f").replace("bh", "b").replace("dh", "d") \
        .replace("th", "t").replace("kh", "k").replace("sh", "s").replace("ck", "k") \
        .replace("q", "k").replace("z", "s").replace("v", "w")
    out = [folded[0]]
    for ch in folded[1:]:
        if ch in "aeiouhyw":
            continue
        if ch != out[-1]:
            out.append(ch)
    return "".join(out)[:5]


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity in [0, 1] (Winkler's prefix scale 0.1, up to 4 letters)."""
    if a == b:
        return 1.0 if a else 0.0
    if not a or not b:
        return 0.0
    window = max(len(a), len(b)) // 2 - 1
    matched_b = [False] * len(b)
    a_matches = []
    for i, ch in enumerate(a):
        lo, hi = max(0, i - window), min(len(b), i + window + 1)
        for j in range(lo, hi):
            if not matched_b[j] and b[j] == ch:
                matched_b[j] = True
                a_matches.append(ch)
                break
    m = len(a_matches)
    if m == 0:
        return 0.0
    b_matches = [b[j] for j in range(len(b)) if matched_b[j]]
    transpositions = sum(x != y for x, y in zip(a_matches, b_matches)) / 2
    jaro = (m / len(a) + m / len(b) + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4]):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def name_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """How alike two names are, in [0, 1], from their tokens (``name_tokens``): each word
    of the shorter name is paired with its best match in the other (Jaro-Winkler); the
    mean and the worst pair count half each (siblings share a family name, not a given
    name); a word missing from the longer name costs a little; with different numbers of
    words the comparison of the words joined counts when higher ("Mohd Ali", "Mohdali")."""
    if not a or not b:
        return 0.0
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    remaining = list(long_)
    total, worst = 0.0, 1.0
    for word in short:
        best_index, best = 0, -1.0
        for index, other in enumerate(remaining):
            score = jaro_winkler(word, other)
            if score > best:
                best_index, best = index, score
        total += best
        worst = min(worst, best)
        remaining.pop(best_index)
    paired = 0.5 * total / len(short) + 0.5 * worst
    missing_penalty = 0.05 * (len(long_) - len(short))
    joined = jaro_winkler("".join(a), "".join(b)) if len(a) != len(b) else 0.0
    return max(0.0, min(1.0, max(paired - missing_penalty, joined)))


# --- blocking keys ----------------------------------------------------------------------

@dataclass(frozen=True)
class PersonFacts:
    """What matching reads of a person (a Beneficiary, or a row shaped like one)."""

    id: int
    name: str
    birth_year: int
    birth_date: date | None
    gender_id: int | None
    account_id: int | None
    guardian_name: str | None = None
    id_type_id: int | None = None
    id_number_hash: str | None = None


def match_keys(person: PersonFacts) -> set[str]:
    """The blocking keys of a person. Two records are compared when they share one:
    - ``p:`` every pair of sound-alike name words (one word: that word) with the birth
      year and with the year after, so that years one apart share a key;
    - ``d:`` the birth date with the initial of each name word (a typo in one word, or
      words in another order, still meets the other record on the same date).
    People of one account (one mobile) are compared by their account, not by key."""
    tokens = name_tokens(person.name)
    skeletons = sorted({skeleton(t) for t in tokens if t})
    keys: set[str] = set()
    pairs = [f"{a}|{b}" for a, b in combinations(skeletons, 2)] or skeletons
    for pair in pairs:
        for year in (person.birth_year, person.birth_year + 1):
            keys.add(f"p:{pair}:{year}"[:64])
    if person.birth_date is not None:
        for initial in {t[0] for t in tokens if t}:
            keys.add(f"d:{person.birth_date.isoformat()}:{initial}")
    return keys


# --- scoring ----------------------------------------------------------------------------

THRESHOLD = 0.72  # pairs scoring at least this are candidates for a reviewer
NAME_FULL = 0.85  # name similarity from which the other facts count fully
NAME_NONE = 0.65  # ... and below which they do not count


@dataclass(frozen=True)
class Match:
    score: float
    reasons: tuple[str, ...]


def different_documents(a: PersonFacts, b: PersonFacts) -> bool:
    """Two documents of the same type with different numbers: two people, whatever else
    they share (``score`` gives 0)."""
    document = other_document_filter(a)
    return (document is not None and b.id_type_id == document[0]
            and bool(b.id_number_hash) and b.id_number_hash != document[1])


def other_document_filter(a: PersonFacts) -> tuple[int, str] | None:
    """The document type and number (hash) of ``a`` when it has one: any record holding
    that type with another number is a different person (``different_documents``), so a
    search for ``a``'s duplicates may leave such records out. None: no document."""
    if a.id_type_id is None or not a.id_number_hash:
        return None
    return a.id_type_id, a.id_number_hash


def score(a: PersonFacts, b: PersonFacts, *, guardian_weight: float = 0.1) -> Match:
    """How likely two records are one person, in [0, 1], and why. The name weighs most;
    birth date (or year), sex, the same account (mobile) and the guardian add; two
    different documents of the same type take the score to 0 (two people)."""
    reasons: list[str] = []
    if different_documents(a, b):
        return Match(0.0, ("different_id",))
    name = name_similarity(name_tokens(a.name), name_tokens(b.name))
    if name >= 0.99:
        reasons.append("same_name")
    elif name >= 0.85:
        reasons.append("similar_name")
    other = 0.0
    if a.birth_date is not None and b.birth_date is not None:
        if a.birth_date == b.birth_date:
            other += 0.25
            reasons.append("same_birth_date")
        elif ((a.birth_date.month, a.birth_date.day) == (b.birth_date.month, b.birth_date.day)
              and abs(a.birth_date.year - b.birth_date.year) == 1):
            other += 0.18  # the year mistyped
            reasons.append("birth_date_year_off")
        elif (a.birth_date.year == b.birth_date.year
              and (a.birth_date.month, a.birth_date.day) == (b.birth_date.day,
                                                             b.birth_date.month)):
            other += 0.18  # day and month swapped
            reasons.append("birth_date_day_month_swapped")
        elif abs((a.birth_date - b.birth_date).days) <= 31:
            other += 0.12  # a day typed wrong
            reasons.append("close_birth_date")
        elif a.birth_date.year == b.birth_date.year:
            # two full dates of one year that differ: a weak sign (in a million people
            # many share a common name and a year)
            other += 0.05
            reasons.append("same_birth_year")
    elif a.birth_year == b.birth_year:
        other += 0.18
        reasons.append("same_birth_year")
    elif abs(a.birth_year - b.birth_year) == 1:
        other += 0.08
        reasons.append("birth_year_one_apart")
    if a.gender_id is not None and a.gender_id == b.gender_id:
        other += 0.08
        reasons.append("same_sex")
    elif a.gender_id is not None and b.gender_id is not None:
        other -= 0.1
    if a.account_id is not None and a.account_id == b.account_id:
        other += 0.12
        reasons.append("same_mobile")
    if a.guardian_name and b.guardian_name:
        guardian = name_similarity(name_tokens(a.guardian_name), name_tokens(b.guardian_name))
        if guardian >= 0.85:
            other += guardian_weight
            reasons.append("same_guardian")
    # Siblings share a birth date (twins), a guardian and a mobile: the other facts count
    # fully only for similar names, and fade out below.
    weight = 1.0 if name >= NAME_FULL else max(0.0, (name - NAME_NONE) / (NAME_FULL - NAME_NONE))
    total = 0.55 * name + weight * other
    return Match(round(max(0.0, min(1.0, total)), 3), tuple(reasons))


# --- dose corrections -------------------------------------------------------------------

DOSE_FIELDS = ("dose_number", "product", "lot", "administered_on", "facility")
PERSON_FIELDS = ("name", "birth_year", "birth_date", "gender", "guardian_name",
                 "guardian_relation")


@dataclass(frozen=True)
class DoseRow:
    """A dose as a merge orders it."""

    id: int
    series: str
    dose_number: int
    product_id: int
    administered_at: datetime


def same_dose(a: DoseRow, b: DoseRow) -> bool:
    """One dose recorded on two records: the same product on the same day in the same
    series (the day of ``administered_at`` as given: the caller puts it in the programme's
    time zone)."""
    return (a.series == b.series and a.product_id == b.product_id
            and a.administered_at.date() == b.administered_at.date())


@dataclass(frozen=True)
class MergePlan:
    """Which doses a merge keeps (with their new numbers, per series by date) and which it
    sets aside as second copies of a kept dose."""

    numbers: dict[int, int]
    set_aside: tuple[int, ...]


def plan_merge(kept: Iterable[DoseRow], merged: Iterable[DoseRow]) -> MergePlan:
    """The kept record's doses and the merged record's, each dose once: a merged dose that
    is the same dose as one of the kept record's is set aside; the rest are numbered
    1, 2, ... in each series by the date given (ties: the kept record's first)."""
    kept, merged = list(kept), list(merged)
    set_aside = tuple(sorted(d.id for d in merged if any(same_dose(d, k) for k in kept)))
    remaining = kept + [d for d in merged if d.id not in set_aside]
    kept_ids = {d.id for d in kept}
    numbers: dict[int, int] = {}
    for series in sorted({d.series for d in remaining}):
        ordered = sorted((d for d in remaining if d.series == series),
                         key=lambda d: (d.administered_at, d.id not in kept_ids, d.dose_number,
                                        d.id))
        for index, dose in enumerate(ordered, start=1):
            numbers[dose.id] = index
    return MergePlan(numbers, set_aside)


# --- ages -------------------------------------------------------------------------------

def age_days(since: datetime, now: datetime) -> int:
    """Whole days since ``since`` (0 on the day itself)."""
    return max(0, (now - since).days)


def overdue(since: datetime, now: datetime, within_days: int) -> bool:
    """Past the service level: more than ``within_days`` whole days old (the pack's
    ``corrections.grievance_resolve_days``)."""
    return age_days(since, now) > within_days


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The fields whose proposed value differs from the current one."""
    return sorted(k for k, v in after.items() if before.get(k) != v)


# --- words for the codes (pages) ----------------------------------------------------------

REQUEST_KIND_LABELS = {
    "person": lazy_gettext("Person's details"),
    "dose": lazy_gettext("Dose facts"),
    "void_dose": lazy_gettext("Void a dose"),
    "move": lazy_gettext("Move to another mobile"),
}
REQUEST_STATUS_LABELS = {
    "pending": lazy_gettext("Waiting for approval"),
    "applied": lazy_gettext("Approved and applied"),
    "rejected": lazy_gettext("Rejected"),
    "awaiting_otp": lazy_gettext("Waiting for the OTP"),
}
FIELD_LABELS = {
    "name": lazy_gettext("Name"),
    "birth_year": lazy_gettext("Year of birth"),
    "birth_date": lazy_gettext("Date of birth"),
    "gender": lazy_gettext("Sex"),
    "guardian_name": lazy_gettext("Guardian"),
    "guardian_relation": lazy_gettext("Guardian's relation"),
    "dose_number": lazy_gettext("Dose number"),
    "product": lazy_gettext("Vaccine"),
    "lot": lazy_gettext("Lot"),
    "administered_on": lazy_gettext("Date given"),
    "facility": lazy_gettext("Facility"),
    "mobile": lazy_gettext("Mobile number"),
    "voided": lazy_gettext("Voided"),
}
GRIEVANCE_CATEGORY_LABELS = {
    "wrong_details": lazy_gettext("Wrong personal details"),
    "missing_dose": lazy_gettext("A dose is missing"),
    "certificate": lazy_gettext("A problem with the certificate"),
    "other": lazy_gettext("Something else"),
}
GRIEVANCE_STATUS_LABELS = {
    "open": lazy_gettext("Received"),
    "in_progress": lazy_gettext("Being looked into"),
    "resolved": lazy_gettext("Resolved"),
    "rejected": lazy_gettext("Closed without change"),
}
