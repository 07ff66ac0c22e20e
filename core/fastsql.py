"""The hand-written SQL of the hot paths: the one seam, and what each use of it buys.

Every signed request looks its API key up, every charge claims a deposit address and writes
its rows, every webhook event writes its deliveries. Through the ORM each of these is a
QuerySet or an InsertQuery compiled again per request, which costs more than the database
takes to answer. This module holds the machinery; each statement lives with the service it
serves and is called there as an ordinary service (the domain rooms sit above core, so core
knows none of their models):

* `merchants.auth.api_key_lookup` (every request): the key and its merchant in one statement
  written once per process, loaded with `select_list` / `load`.
* `wallets.services` `_claim_free` (every charge): the lowest free address of the stored root
  (from just above the process's last claim: see there) in one `UPDATE ... WHERE id =
  (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING` that reads the root's fingerprint itself
  and returns its origin: one SELECT less per charge. The states are SQL literals: a
  prepared statement's generic plan cannot match the partial pool index against a
  parameter (about 1,000 buffers and 1.9 ms per claim after a few thousand charges;
  206 buffers and 0.58 ms with literals; wallets/tests/test_wallets_reservation.py EXPLAINs it).
* `orders.services.order_record_created` with `webhooks.services.event_statements` (every
  charge, every event): the order, payment, first event, webhook event and deliveries in one
  statement that psycopg parses once per process (`insert`, `insert_select`, `execute`): about
  1.1 ms of web CPU per charge against plain ORM inserts (bench/analysis.md, 2026-12-01).
* Not here: the replay row of a signed POST (`merchants.auth._consume_signature`,
  `synchronous_commit` off for that one statement: one WAL flush less per POST).

Prepared statements (`DB_PREPARE_THRESHOLD`, fluxa_site/settings.py) make all of it worth
more: a statement whose text never changes is parsed and planned once per connection.

## New rows in one round trip

A charge writes an order, its payment, its first audit event and a webhook event, plus a
delivery per subscribed endpoint. Through Model.save() that is a round trip and a query
compilation per row. Here each row becomes an INSERT whose values are exactly what save()
would write (every field's own pre_save and get_db_prep_save: defaults, auto_now_add, JSON,
decimals), and PostgreSQL receives all of them as one statement of data-modifying CTEs:

    WITH r0 AS (INSERT ...), r1 AS (INSERT ...) INSERT ... SELECT ... RETURNING id

On PostgreSQL each row travels as one JSON parameter, read back into the table's row type:

    INSERT INTO t (<columns>) SELECT <columns> FROM json_populate_record(NULL::t, %s::json)

so the statement's text is the same for every row of a model and has a handful of parameters:
psycopg then parses it once per process (it caches statements up to 4096 characters with at
most 50 parameters; a row per placeholder put a charge's statement far past both, and its
parse cost about 1 ms a charge). Values keep their exact text (a Decimal as its string,
a datetime in ISO 8601 with its offset); PostgreSQL converts them with each column's own
input function, as it does a parameter.

Elsewhere (SQLite, for `make run`) the very same rows are plain INSERT ... VALUES, run one after another. Either way
they run in the caller's transaction. Foreign keys are checked at commit (Django creates them
DEFERRABLE INITIALLY DEFERRED on both databases), so the order of the rows does not matter; a
unique violation fails the whole statement with IntegrityError, as save() would.

What save() does and this does not: model signals (none of the models written this way has
receivers; core/tests/test_core_fastsql_inserts.py checks that) and reading back database-assigned
primary keys (an AutoField row keeps pk None: use it for rows nobody reads back, such as
append-only audit rows).

## Model instances from hand-written SQL

For the few statements every request runs (the API key lookup, the address claim), compiling
a QuerySet costs more than the database takes to answer it. These are written once as SQL;
`select_list` names a model's columns in the order `load` expects them, and `load` turns
those values into an instance the way a QuerySet does: each field's database converters
(JSON, decimals, SQLite's datetimes...), then Model.from_db, so the instance is "from the
database" (a later save() updates it).
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import timezone
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField

AUTO_FIELDS = (AutoField, BigAutoField, SmallAutoField)


@dataclass
class Statement:
    sql: str
    params: list = field(default_factory=list)


@lru_cache(maxsize=None)
def _columns(model: type[Model], vendor: str) -> tuple[list, list, str]:
    """The fields written for a new row (an auto primary key is left to the database), the
    same minus the auto key, and the quoted table name."""
    ops = connections[router.db_for_write(model)].ops
    fields = list(model._meta.local_concrete_fields)
    written = [f for f in fields if not (f.primary_key and isinstance(f, AUTO_FIELDS))]
    return fields, written, ops.quote_name(model._meta.db_table)


# Fields whose save() value is the attribute itself when it already has the Python type the
# column takes (the field's pre_save is Field's own, and get_db_prep_save then returns such a
# value unchanged): CharField.to_python of a str, IntegerField's int() of an int, and so on.
# Any other value (JSON, a naive datetime, an int handed to a CharField...) goes through the
# field's own pre_save and get_db_prep_save, as save() does. A batch of a thousand rows saves
# about 5 us per datetime or decimal column per row this way (bench/analysis.md).
_STR = (str,)  # one tuple: _save_values tells the str columns by identity
_PLAIN_TYPES: dict[type, tuple[type, ...]] = {
    models.CharField: _STR, models.TextField: _STR, models.SlugField: _STR, models.EmailField: _STR,
    models.IntegerField: (int,), models.BigIntegerField: (int,), models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,), models.PositiveBigIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,), models.BooleanField: (bool,),
}
_GENERIC, _PLAIN, _KEY, _DATETIME, _DECIMAL, _JSON = range(6)


def _plain(f) -> tuple[type, ...] | None:
    """The value types that `f` saves unchanged, or None."""
    if type(f).pre_save is not models.Field.pre_save:
        return None
    if isinstance(f, models.ForeignKey):
        target = (int,) if isinstance(f.target_field, AUTO_FIELDS) else _plain(f.target_field)
        if target is None or type(f).get_db_prep_save is not models.ForeignKey.get_db_prep_save:
            return None
        return target
    plain = _PLAIN_TYPES.get(type(f))
    if plain is None or type(f).get_db_prep_save is not models.Field.get_db_prep_save:
        return None
    return plain


def _kind(f, connection) -> tuple[int, tuple[type, ...] | None]:
    plain = _plain(f)
    if plain is not None:
        return (_KEY if isinstance(f, models.ForeignKey) else _PLAIN), plain
    ops = type(connection.ops)
    if type(f) is models.DateTimeField and connection.vendor == "postgresql":
        return _DATETIME, None  # psycopg takes an aware datetime as it is (adapt_datetimefield_value)
    if type(f) is models.DecimalField and ops.adapt_decimalfield_value is BaseDatabaseOperations.adapt_decimalfield_value:
        return _DECIMAL, None  # DecimalField.to_python of a Decimal is the same Decimal
    if type(f) is models.JSONField and f.encoder is None and connection.vendor == "postgresql":
        return _JSON, None  # a dict or list: as it is, where the row travels as JSON
    return _GENERIC, None


@lru_cache(maxsize=None)
def _savers(model: type[Model], fields: tuple, alias: str) -> tuple[tuple, ...]:
    connection = connections[alias]
    savers = []
    for f in fields:
        kind, plain = _kind(f, connection)
        # On PostgreSQL Django hands psycopg an int as Int2/Int4/Int8 (adapt_integerfield_value),
        # which fixes the parameter's type: a bound int keeps that path; in a JSON row it is a
        # number either way.
        json_only = connection.vendor == "postgresql" and plain is not None and int in plain
        savers.append((f, f.attname, kind, plain, getattr(f, "auto_now", False), getattr(f, "auto_now_add", False),
                       json_only))
    return tuple(savers)


def _save_values(obj: Model, savers: tuple, connection, add: bool, json_rows: bool = False) -> list:
    """What save() writes for these fields of obj, in their order (each field's pre_save and
    get_db_prep_save, or their result where it is known: see _PLAIN_TYPES). `json_rows`: the
    values go into a row of JSON (_dumps), where a JSONField's dict or
    list is written as it is."""
    attrs = obj.__dict__
    values = []
    for f, attname, kind, plain, auto_now, auto_now_add, json_only in savers:
        if json_only and not json_rows:
            pass
        elif kind == _PLAIN:
            value = attrs.get(attname, _MISSING)
            if value is None or type(value) in plain or (plain is _STR and isinstance(value, str)):
                values.append(value)  # a str subclass (a TextChoices member) is its text to the driver
                continue
        elif kind == _KEY:
            value = attrs.get(attname, _MISSING)
            if value is None or (type(value) in plain and value != ""):  # "" may mean NULL for a key
                values.append(value)
                continue
        elif kind == _DATETIME:
            if auto_now or (add and auto_now_add):
                attrs[attname] = value = timezone.now()  # DateTimeField.pre_save
                values.append(value)
                continue
            value = attrs.get(attname, _MISSING)
            if value is None or (type(value) is datetime.datetime and value.tzinfo is not None):
                values.append(value)
                continue
        elif kind == _DECIMAL:
            value = attrs.get(attname, _MISSING)
            if value is None or type(value) is Decimal:
                values.append(value)
                continue
        elif kind == _JSON and json_rows:
            value = attrs.get(attname, _MISSING)
            if type(value) in (dict, list):
                values.append(value)
                continue
        values.append(f.get_db_prep_save(f.pre_save(obj, add), connection))
    return values


_MISSING = object()


def _values(obj: Model, connection) -> tuple[list, list]:
    _, written, _ = _columns(type(obj), connection.vendor)
    if obj.pk is not None and obj._meta.pk not in written:
        written = [obj._meta.pk, *written]
    return written, _save_values(obj, _savers(type(obj), tuple(written), connection.alias), connection, True)


@lru_cache(maxsize=1)
def _json_wrappers() -> tuple[type, ...]:
    """psycopg's wrappers of a JSONField's value (get_db_prep_save's result on PostgreSQL)."""
    from psycopg.types.json import Json, Jsonb

    return Json, Jsonb


def _json_default(value):
    """JSON for the values get_db_prep_save hands psycopg: exact text, never a float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, _json_wrappers()):  # a JSONField's value, dumped with the field's encoder
        if value.dumps in (None, json.dumps):  # no encoder of its own: the value itself, no round trip
            return value.obj
        return json.loads(value.dumps(value.obj))
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _dumps(value) -> str:
    """The JSON text of a row (or an array of rows) of _save_values' values, exactly as
    json.dumps(value, default=_json_default, allow_nan=False) writes it but for whitespace and
    a float's spelling. By orjson, which is compiled (a pass's 2,000 webhook events, each with
    its order's snapshot: 1.6 ms against 18 ms with the standard library's encoder; about 0.7
    of the standard library's time with the check below). orjson is used only for what it writes the same way
    (_orjson_writes_alike: orjson writes a NaN as null, and dataclasses and plain enums that
    json.dumps refuses); datetimes, dates and times go to _json_default's isoformat() (orjson's
    own text rounds an offset with seconds). Anything else, and an integer past 64 bits, is
    left to json.dumps, which raises ValueError for a NaN or infinity as before."""
    if _orjson_writes_alike(value):
        try:
            return orjson.dumps(value, default=_json_default,
                                option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME).decode()
        except TypeError:  # an integer past 64 bits
            pass
    return json.dumps(value, default=_json_default, allow_nan=False)


_ALIKE = frozenset({str, int, bool, type(None), Decimal, datetime.datetime, datetime.date, datetime.time,
                    uuid.UUID})
_ALIKE_KEYS = frozenset({str, int, bool, type(None)})


def _orjson_writes_alike(value) -> bool:
    """Whether orjson writes `value` as json.dumps(..., default=_json_default,
    allow_nan=False) does: only the types above (str and int subclasses: TextChoices and
    IntegerChoices members), finite floats, dicts with keys of the exact types of _ALIKE_KEYS,
    lists, tuples, and a JSONField's wrapped value without an encoder of its own. Each container is looked through
    once: a batch's rows often share one (the two events of an order carry the same
    snapshot), and a cycle ends the walk (json.dumps then reports it)."""
    wrappers = _json_wrappers()
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _ALIKE:
            continue
        if kind is float:
            if not math.isfinite(item):
                return False
            continue
        if kind is dict or kind is list or kind is tuple or isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if kind is dict or isinstance(item, dict):
                if not _ALIKE_KEYS.issuperset(map(type, item)):  # in C: a float or an enum key
                    return False
                stack.extend(item.values())
            else:
                stack.extend(item)
        elif isinstance(item, (str, int)):
            continue
        elif isinstance(item, wrappers) and item.dumps in (None, json.dumps):
            stack.append(item.obj)
        else:
            return False
    return True


@lru_cache(maxsize=None)
def _json_insert_sql(table: str, columns: str) -> str:
    return f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_record(NULL::{table}, %s::json)"


def insert(obj: Model, *, using: str | None = None) -> Statement:
    """The INSERT of an unsaved instance: on PostgreSQL its row as one JSON parameter (see
    above), elsewhere INSERT INTO <table> (<columns>) VALUES (...)."""
    connection = connections[using or router.db_for_write(type(obj))]
    written, values = _values(obj, connection)
    _, _, table = _columns(type(obj), connection.vendor)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in written)
    if connection.vendor == "postgresql":
        try:
            row = _dumps(dict(zip((f.column for f in written), values)))
        except (TypeError, ValueError):  # a value JSON cannot carry exactly (bytes, NaN): bind them one by one
            pass
        else:
            return Statement(_json_insert_sql(table, columns), [row])
    return Statement(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(values))})", values)


def insert_select(template: Model, *, exprs: dict[str, str], source: str, params: Sequence = (),
                  returning: str = "", using: str | None = None) -> Statement:
    """INSERT INTO <table> (<columns>) SELECT <values> FROM <source>: one row per source row.
    Every column takes the template's value, except those named in `exprs` (attname -> an SQL
    expression over `source`). `source` is the rest of the query after FROM, with `params`."""
    connection = connections[using or router.db_for_write(type(template))]
    written, values = _values(template, connection)
    _, _, table = _columns(type(template), connection.vendor)
    quote = connection.ops.quote_name
    selected, select_params = [], []
    for f, value in zip(written, values, strict=True):
        if f.attname in exprs:
            selected.append(exprs[f.attname])
        else:
            selected.append("%s")
            select_params.append(value)
    unknown = set(exprs) - {f.attname for f in written}
    if unknown:
        raise ValueError(f"{type(template).__name__} has no written column {sorted(unknown)}")
    columns = ", ".join(quote(f.column) for f in written)
    sql = f"INSERT INTO {table} ({columns}) SELECT {', '.join(selected)} FROM {source}"
    if returning:
        sql += f" RETURNING {returning}"
    return Statement(sql, [*select_params, *params])


def execute(statements: Sequence[Statement], *, using: str = "default") -> list[tuple]:
    """Run the statements in the caller's transaction; returns the rows the last one returns.
    One round trip on PostgreSQL, one per statement elsewhere."""
    connection = connections[using]
    if not statements:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            one = compose(statements)
            cursor.execute(one.sql, one.params)
        else:
            for s in statements:
                cursor.execute(s.sql, s.params)
        return cursor.fetchall() if cursor.description else []


def compose(statements: Sequence[Statement]) -> Statement:
    """PostgreSQL: the statements as one, the first ones as data-modifying CTEs."""
    *first, last = statements
    if not first:
        return last
    ctes = ", ".join(f"r{i} AS ({s.sql})" for i, s in enumerate(first))
    return Statement(f"WITH {ctes} {last.sql}", [*(p for s in first for p in s.params), *last.params])


def mark_saved(*objs: Model, using: str = "default") -> None:
    """After execute(): the instances are rows now (a later save() updates them)."""
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


# --- loading rows ---------------------------------------------------------------------------

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


def prepare(models, *, using: str = "default") -> None:
    """Build now what this module otherwise builds, once per process, on each model's first
    insert or load (its columns, fields and converters): fluxa_site/wsgi.py calls it in
    gunicorn's master, so that forked workers start with it. Touches no database."""
    vendor = connections[using].vendor
    for model in models:
        _columns(model, vendor)
        _converters(model, using)


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


# --- many rows of one model -----------------------------------------------------------------
#
# A scan pass records hundreds of transfers and moves hundreds of orders at once. Row by row
# that is a round trip per row; here the rows of one model travel together: on PostgreSQL as
# one JSON array, read back into the table's row type (jsonb_populate_recordset), so the
# statement's text does not depend on how many rows there are. The array is sent as jsonb,
# parsed once: as json, each row's JSON columns (an event's payload) are parsed a second time
# into jsonb, and a pass's 750 events took about a fifth longer. Elsewhere (SQLite) as
# INSERT ... VALUES / bulk_update in the batches the backend takes.


def _row_json(columns: Sequence[str], values: Sequence) -> dict:
    return dict(zip(columns, values, strict=True))


def insert_many(objs: Sequence[Model], *, conflict: str = "", returning: str = "", increasing: str = "",
                using: str | None = None) -> list[tuple]:
    """INSERT unsaved instances of one model in the caller's transaction, with exactly the
    values save() would write (as insert() does); returns the rows `returning` names, of the
    rows actually inserted. `conflict`: an ON CONFLICT clause (for example
    '("network", "tx_hash", "log_index") DO NOTHING'): rows it skips are not returned. An
    AutoField primary key is left to the database and not set on the instances. `increasing`:
    a datetime field (attname) made strictly increasing in the order of `objs`, by a
    microsecond where two rows' auto_now_add times tie, so that a batch sorts by it as rows
    written one after another do."""
    if not objs:
        return []
    model = type(objs[0])
    connection = connections[using or router.db_for_write(model)]
    _, written, table = _columns(model, connection.vendor)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in written)
    tail = (f" ON CONFLICT {conflict}" if conflict else "") + (f" RETURNING {returning}" if returning else "")
    savers = _savers(model, tuple(written), connection.alias)
    rows = [_save_values(obj, savers, connection, True, connection.vendor == "postgresql") for obj in objs]
    if increasing:
        at = next(i for i, f in enumerate(written) if f.attname == increasing)
        for previous, row, obj in zip(rows, rows[1:], objs[1:]):
            if isinstance(row[at], datetime.datetime) and row[at] <= previous[at]:
                row[at] = previous[at] + datetime.timedelta(microseconds=1)
                setattr(obj, increasing, row[at])
    found: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = [f.column for f in written]
            data = _dumps([_row_json(names, row) for row in rows])
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM "
                           f"jsonb_populate_recordset(NULL::{table}, %s::jsonb){tail}", [data])
            found = cursor.fetchall() if returning else []
        else:
            size = max(1, connection.ops.bulk_batch_size(written, objs))
            for start in range(0, len(rows), size):
                batch = rows[start:start + size]
                values = ", ".join("(" + ", ".join(["%s"] * len(written)) + ")" for _ in batch)
                cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}{tail}",
                               [v for row in batch for v in row])
                if returning:
                    found += cursor.fetchall()
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return found


def update_many(objs: Sequence[Model], fields: Sequence[str], *, using: str | None = None) -> int:
    """UPDATE saved instances of one model, each row to its own values of `fields` (attnames),
    in one statement on PostgreSQL (the rows as one JSON array joined on the primary key);
    an auto_now field among them is set to now, as save() does. Returns the rows updated."""
    if not objs:
        return 0
    model = type(objs[0])
    connection = connections[using or router.db_for_write(model)]
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        for obj in objs:
            for f in targets:
                setattr(obj, f.attname, f.pre_save(obj, False))
        return model._base_manager.using(connection.alias).bulk_update(objs, [f.name for f in targets])
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk = meta.pk
    names = [pk.column, *(f.column for f in targets)]
    # Each field's pre_save (an auto_now field sets the instance's value to now) and
    # get_db_prep_save, as save() does; the plain ones as they are (_save_values).
    savers = _savers(model, (pk, *targets), connection.alias)
    data = _dumps([_row_json(names, _save_values(obj, savers, connection, False, True)) for obj in objs])
    sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in targets)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {sets} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) v "
                       f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}", [data])
        return cursor.rowcount


class AnyOf(models.lookups.In):
    """`filter(pk__any=ids)`: `pk IN (ids)`, sent to PostgreSQL as `pk = ANY(%s)` with the ids
    as one array parameter. A batch of a thousand ids (a scan pass's orders) costs Django a
    placeholder, a parameter and an expression check per id through `__in`, and psycopg a
    statement text that changes with their number; here it is one parameter and one text.
    Meant for plain values (ids, hashes); elsewhere it is `__in` itself."""

    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if not isinstance(self.rhs, (list, tuple, set, frozenset)) or not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = sorted({value for value in self.rhs if value is not None})
        if not values:
            raise EmptyResultSet
        return f"{lhs} = ANY(%s::{self.lhs.output_field.db_type(connection)}[])", [*lhs_params, values]


models.Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)  # related fields look theirs up from ForeignObject down
