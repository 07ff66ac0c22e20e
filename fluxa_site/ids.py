"""Public object ids: a type prefix and 16 random base62 characters (about 95 bits).

`ord_2Zx9Qw8sUaM2Lp0a`, `pay_...`, `stl_...`, `rfd_...`, `evt_...`, `mer_...`.
"""

import secrets
import string

_ALPHABET = string.digits + string.ascii_letters
ID_LENGTH = 16
ID_MAX_LENGTH = 32


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))


def merchant_id() -> str:
    return new_id("mer")
