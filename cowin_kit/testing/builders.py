"""Objects the pure rules read, built without a database."""

from __future__ import annotations

__all__ = ["vaccine_schedule"]


def vaccine_schedule(products: list[str], doses: list[dict], *, min_age: int = 18,
                     max_age: int | None = None, interchangeable: bool = False):
    """A transient VaccineSchedule (as a pack installs it) for the rules' tests."""
    import cowin_kit.models  # noqa: F401  (all mappers, so that this one configures)
    from cowin_kit.programme.models import VaccineSchedule

    return VaccineSchedule(code="-".join(products), products=products, doses=doses,
                           min_age=min_age, max_age=max_age, interchangeable=interchangeable)
