"""The USSD menus: one state machine, each state a screen (``render``) and what an answer
to it does (``answer``). Every action calls the same service as the web pages and the
API (registration, booking, due lists, certificates), so every limit of those flows
applies unchanged; the caller's number, given by the authenticated gateway, is the
account.

Numbered choices only; ``0`` shows a screen's next page, ``00`` goes back to the main
menu. Free input only where nothing else can work: names, ID numbers, dates (DDMMYYYY),
postal codes, OTP and PIN. A state's options are kept with the session (``_opts``), so
that the number typed means what the caller saw.

The modules, by responsibility: ``base`` (screens, the session's context, the state
registry, shared helpers), ``menu`` (main menu, who, what is due, certificate code,
language), ``register`` (registering an adult or a child), ``booking`` (finding a
session, booking, moving, cancelling), ``pin`` (the booking PIN, set after an SMS OTP).
Menu words are translated in the message context ``ussd`` (``pgettext("ussd", ...)``):
short forms for a 182-character screen, apart from the same English words on the web
pages.
"""

from cowin_kit.channels.ussd import booking, menu, pin, register  # noqa: F401 (the states)
from cowin_kit.channels.ussd.base import STATES, WRITING, Context, Go, Screen

__all__ = ["STATES", "WRITING", "Context", "Go", "Screen"]
