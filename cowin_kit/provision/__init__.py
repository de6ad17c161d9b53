"""Putting data in place: installing a country pack into the database (``installer``) and
the demo data of ``make demo`` (``demo``). Above every domain package, whose models it
fills; called by the CLI, the setup wizard and tests."""
