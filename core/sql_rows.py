"""Model instances from rows of hand-written SQL, as the ORM itself would build them.

For the few statements every request runs (the API key lookup, the address claim), compiling
a QuerySet costs more than the database takes to answer it. These are written once as SQL;
`select_list` names a model's columns in the order `load` expects them, and `load` turns
those values into an instance the way a QuerySet does: each field's database converters
(JSON, decimals, SQLite's datetimes...), then Model.from_db, so the instance is "from the
database" (a later save() updates it).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from django.db import connections
from django.db.models import Model


@lru_cache(maxsize=None)
def _fields(model: type[Model]) -> tuple:
    return tuple(model._meta.concrete_fields)


def select_list(model: type[Model], alias: str, *, using: str = "default") -> str:
    """`"alias"."column", ...` for every concrete field of `model`, in load()'s order."""
    quote = connections[using].ops.quote_name
    return ", ".join(f"{quote(alias)}.{quote(f.column)}" for f in _fields(model))


def width(model: type[Model]) -> int:
    """How many values of a row belong to `model` (to split a joined row)."""
    return len(_fields(model))


@lru_cache(maxsize=None)
def _converters(model: type[Model], using: str) -> tuple[tuple[str, ...], tuple]:
    connection = connections[using]
    table = model._meta.db_table
    attnames, converters = [], []
    for f in _fields(model):
        col = f.get_col(table)
        attnames.append(f.attname)
        converters.append((tuple(connection.ops.get_db_converters(col)) + tuple(col.get_db_converters(connection)),
                           col))
    return tuple(attnames), tuple(converters)


def load(model: type[Model], values: Sequence, *, using: str = "default") -> Model:
    """The instance of `model` whose columns (as select_list named them) are `values`."""
    attnames, converters = _converters(model, using)
    connection = connections[using]
    row = []
    for value, (funcs, col) in zip(values, converters, strict=True):
        for func in funcs:
            value = func(value, col, connection)
        row.append(value)
    return model.from_db(using, attnames, row)
