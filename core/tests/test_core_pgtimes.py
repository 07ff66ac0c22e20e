"""core/pgtimes.py: on PostgreSQL with a UTC session, timestamps are read by psycopg's
compiled loader, and are the very values Django's own loader reads."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import get_adapters_template

from core.pgtimes import compiled_utc_loader

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loaders")]

VALUES = ["2026-12-02 16:30:05.000120+00", "2026-12-02 16:30:05+00", "1969-07-20 20:17:40.5+00",
          "0001-01-01 00:00:00+00", "9999-12-31 23:59:59.999999+00", "2026-03-29 01:30:00+02"]
QUERY = "SELECT v::timestamptz FROM unnest(%s::text[]) AS v"


def test_each_connection_reads_timestamps_with_the_compiled_loader():
    from psycopg import adapters, pq

    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(adapters.types["timestamptz"].oid, pq.Format.TEXT)
    assert loader is compiled_utc_loader() and loader is not None
    with connection.cursor() as cursor:  # Django keeps it: no loader of its own on the cursor
        cursor.execute("SELECT now()")
        assert cursor.fetchone()[0].tzinfo is datetime.timezone.utc


def test_the_compiled_loader_reads_what_djangos_loader_reads():
    import psycopg

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(QUERY, [VALUES])
        fast = [row[0] for row in cursor.fetchall()]
    params = connection.get_connection_params()
    params["context"] = get_adapters_template(True, datetime.timezone.utc)  # Django's own, alone
    with psycopg.connect(**params) as other:
        other.execute("SET TIME ZONE 'UTC'")
        django = [row[0] for row in other.execute(QUERY, [VALUES]).fetchall()]

    assert fast == django and [v.tzinfo for v in fast] == [datetime.timezone.utc] * len(VALUES)
    assert [v.isoformat() for v in fast] == [v.isoformat() for v in django]
    assert fast[0].microsecond == 120 and fast[-1].hour == 23
