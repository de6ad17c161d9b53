"""The programme's catalogue: the vaccine products and the schedules that say how they are
given, installed from the country pack. The lowest domain layer beside geography and
identity: registration, scheduling and vaccination all read it; it reads none of them."""
