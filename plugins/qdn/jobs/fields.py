"""The limits of a job's fields and the control-character rule, as plain values and a function.

:mod:`qdn.jobs.model` builds its field types from these and re-exports every name, so the model
stays the one place a reader looks; the booking form (:mod:`qdn.jobs.booking`) checks a customer's
name, address, e-mail and notes against the same numbers, and the booking page's script keeps a
copy that the tests compare with these.

They live in a module of their own, below both, because the model re-exports the booking form:
while ``qdn.jobs.model`` is being imported it imports ``qdn.jobs.booking``, so the booking module
cannot take anything from the model at import time. Nothing here imports from ``qdn``.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

__all__ = [
    "CURRENCY_PATTERN",
    "EMAIL_MAX_LENGTH",
    "EMAIL_PATTERN",
    "NAME_MAX_LENGTH",
    "NOTES_ALLOWED_CONTROL",
    "NOTES_MAX_LENGTH",
    "PHONE_MAX_LENGTH",
    "PHONE_PATTERN",
    "PRICE_MAX",
    "SHORT_TEXT_MAX_LENGTH",
    "STREET_MAX_LENGTH",
    "STREET_MIN_LENGTH",
    "control_character_problem",
]

# A person's or company's name: 100 characters hold any real one and still fit a line of the
# dispatcher's screen and a column of the ops export.
NAME_MAX_LENGTH = 100
# A city: the same room as a name.
SHORT_TEXT_MAX_LENGTH = 100
# The street line: 3 is the shortest that can name a place ("1 A"); 200 holds a street, a
# building and a unit with room to spare.
STREET_MIN_LENGTH = 3
STREET_MAX_LENGTH = 200
# A note: a gate code or directions, a short paragraph at most; 500 keeps a row of the ops export
# readable.
NOTES_MAX_LENGTH = 500
# A note may keep its line breaks (directions are often a list); every other control is refused.
NOTES_ALLOWED_CONTROL = "\n"
# RFC 5321's limit on a forward path: no deliverable address is longer.
EMAIL_MAX_LENGTH = 254
# One "@", something on both sides and a dot in the domain, no spaces: enough to catch a typo;
# only a sent message proves an address.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# 25 characters: E.164's 15 digits plus a "+", spaces, dashes and brackets as people write them;
# 7 is the shortest local number.
PHONE_MAX_LENGTH = 25
PHONE_PATTERN = rf"^\+?[0-9 ().-]{{7,{PHONE_MAX_LENGTH}}}$"
# The ceiling only catches a slipped keyboard: a dumpster rental is hundreds of dollars, not
# millions.
PRICE_MAX = Decimal("1000000")
# ISO 4217 alphabetic code; the list itself changes too often to hard-code.
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def control_character_problem(text: str, allowed: str = "") -> str | None:
    """Why ``text`` may not be stored, if it holds a control character (Unicode Cc: NUL, BEL,
    ESC, DEL, C1…) other than those in ``allowed``; None when it holds none.

    They are invisible on a screen and in a log, break the CSV ops export and a terminal, and no
    name, street or note ever needs one. A plain function, not only a pydantic validator, so the
    booking form can apply the same rule and answer with its own fixed message.
    """
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in allowed:
            return (
                f"contains the control character U+{ord(ch):04X}; remove it (only "
                + ("line breaks are" if allowed else "printable text is")
                + " allowed here)"
            )
    return None
