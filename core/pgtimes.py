"""PostgreSQL timestamps read by psycopg's compiled loader.

Django (with psycopg 3) reads every `timestamptz` value through a loader of its own: a
subclass of psycopg's pure-Python TimestamptzLoader that then replaces the value's tzinfo with
the connection's time zone. That costs about 4.8 us a value here, where psycopg's compiled
loader (psycopg-binary) takes about 1.1 us. A scan pass locks its touched orders, with seven
timestamps each: for 1,000 orders that was about 27 ms of the pass's CPU (bench/analysis.md).

The compiled loader returns each value in the session's time zone. Django sets the session to
UTC when USE_TZ is on and the database has no TIME_ZONE of its own, and then wants every value
in `datetime.timezone.utc`: exactly what the compiled loader returns for a UTC session. Only
then does this module register it, on each new connection (CoreConfig.ready connects
`use_compiled_timestamps` to `connection_created`); any other set-up keeps Django's loader.
It assumes the session stays in UTC: nothing in fluxa runs SET TIME ZONE (after one, the
compiled loader would return the right instants in that zone, Django's would not).
"""

from __future__ import annotations

import datetime
from functools import lru_cache


@lru_cache(maxsize=1)
def compiled_utc_loader():
    """A loader class for `timestamptz` text values whose load is psycopg's compiled one, or
    None without psycopg-binary. The compiled class cannot be subclassed, so each instance
    holds one and hands out its bound load. `timezone` is what Django's create_cursor compares
    with the connection's time zone (it registers its own loader on a cursor when they differ)."""
    from psycopg import adapters, pq

    compiled = adapters.get_loader(adapters.types["timestamptz"].oid, pq.Format.TEXT)
    if compiled is None or not compiled.__module__.startswith("psycopg_binary"):
        return None

    class UtcTimestamptzLoader:
        timezone = datetime.timezone.utc
        format = pq.Format.TEXT

        def __init__(self, oid: int, context=None):
            self.load = compiled(oid, context).load

    return UtcTimestamptzLoader


def use_compiled_timestamps(sender, connection, **kwargs) -> None:
    """connection_created: on a PostgreSQL connection whose session and Django both use UTC,
    read timestamps with the compiled loader."""
    if connection.vendor != "postgresql" or connection.timezone is not datetime.timezone.utc:
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    loader = compiled_utc_loader()
    if loader is not None:
        raw.adapters.register_loader("timestamptz", loader)
