"""Public object ids: a type prefix and 16 random base62 characters (about 95 bits).

`ord_2Zx9Qw8sUaM2Lp0a`, `pay_...`, `stl_...`, `rfd_...`, `evt_...`, `mer_...`.
"""

import secrets
import string

_ALPHABET = string.digits + string.ascii_letters
ID_LENGTH = 16
ID_MAX_LENGTH = 32
_SPACE = len(_ALPHABET) ** ID_LENGTH


def new_id(prefix: str) -> str:
    # One uniform draw from the whole id space, written in base 62: the same distribution as
    # ID_LENGTH independent secrets.choice() calls, at a fifth of the cost.
    n = secrets.randbelow(_SPACE)
    digits = []
    for _ in range(ID_LENGTH):
        n, r = divmod(n, 62)
        digits.append(_ALPHABET[r])
    return f"{prefix}_" + "".join(digits)


def merchant_id() -> str:
    return new_id("mer")
