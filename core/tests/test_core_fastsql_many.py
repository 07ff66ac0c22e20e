"""core/fastsql.py, many rows of one model: insert_many writes what save() writes, skips what
its ON CONFLICT skips and returns only the rows it inserted; update_many writes each row's own
values (and auto_now)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core import fastsql
from testing.factories import MerchantFactory
from wallets.models import Transfer, TransferStatus
from webhooks.models import Event

pytestmark = pytest.mark.django_db
KEY = '("network", "tx_hash", "log_index") DO NOTHING'


def _transfer(tx: str, index: int = 0, amount: str = "1") -> Transfer:
    return Transfer(network="ethereum", mode="live", tx_hash=tx, log_index=index, asset="ETH",
                    amount=Decimal(amount), block_number=7, block_hash="0xb", confirmations=0)


def test_insert_many_writes_exact_values_and_returns_only_the_rows_it_inserted():
    first = fastsql.insert_many([_transfer("0x1", 0, "0.000000000000000001"), _transfer("0x1", 1, "123456.5")],
                                conflict=KEY, returning='"tx_hash", "log_index"')
    again = fastsql.insert_many([_transfer("0x1", 1, "9"), _transfer("0x2")], conflict=KEY,
                                returning='"tx_hash", "log_index"')

    assert sorted(first) == [("0x1", 0), ("0x1", 1)] and again == [("0x2", 0)]
    rows = {(t.tx_hash, t.log_index): t for t in Transfer.objects.all()}
    assert len(rows) == 3
    assert rows[("0x1", 0)].amount == Decimal("0.000000000000000001")
    assert rows[("0x1", 1)].amount == Decimal("123456.5")  # the conflicting row kept its first values
    assert rows[("0x2", 0)].detected_at is not None and rows[("0x2", 0)].status == TransferStatus.SEEN


def test_insert_many_without_a_conflict_clause_fails_whole_on_a_duplicate():
    from django.db import IntegrityError, transaction

    fastsql.insert_many([_transfer("0x1")])
    with pytest.raises(IntegrityError), transaction.atomic():
        fastsql.insert_many([_transfer("0x3"), _transfer("0x1")])
    assert list(Transfer.objects.values_list("tx_hash", flat=True)) == ["0x1"]


def test_insert_many_keeps_json_and_makes_the_increasing_column_increase():
    merchant = MerchantFactory()
    data = {"order": {"id": "ord_ü", "amount": "1.10", "n": 2**60, "nested": [None, True, "é"]}}
    events = [Event(merchant=merchant, mode="live", type="order.paid", data=data) for _ in range(50)]

    fastsql.insert_many(events, increasing="created_at")

    stored = list(Event.objects.filter(merchant=merchant).order_by("created_at"))
    assert [e.pk for e in stored] == [e.pk for e in events]
    assert all(e.data == data for e in stored)
    times = [e.created_at for e in stored]
    assert all(a < b for a, b in zip(times, times[1:]))


def test_update_many_writes_each_rows_own_values_and_auto_now():
    fastsql.insert_many([_transfer("0x1"), _transfer("0x2")])
    one, two = Transfer.objects.order_by("tx_hash")
    before = one.updated_at
    confirmed_at = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)

    updated = fastsql.update_many(
        [Transfer(pk=one.pk, confirmations=5, status=TransferStatus.CONFIRMED, confirmed_at=confirmed_at),
         Transfer(pk=two.pk, confirmations=1, status=TransferStatus.SEEN, confirmed_at=None)],
        ["confirmations", "status", "confirmed_at", "updated_at"])

    assert updated == 2
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.confirmations, one.status, one.confirmed_at) == (5, "confirmed", confirmed_at)
    assert (two.confirmations, two.status, two.confirmed_at) == (1, "seen", None)
    assert one.updated_at > before and one.amount == Decimal("1") and one.block_hash == "0xb"  # others untouched
    assert fastsql.update_many([], ["status"]) == 0


def _generic(obj, f, add: bool):
    """What save() itself computes for one field: its pre_save, then its get_db_prep_save."""
    from django.db import connection
    from psycopg.types.json import Jsonb

    value = f.get_db_prep_save(f.pre_save(obj, add), connection)
    return ("Jsonb", value.obj) if isinstance(value, Jsonb) else value


def _comparable(value):
    from psycopg.types.json import Jsonb

    return ("Jsonb", value.obj) if isinstance(value, Jsonb) else value


def _sample(f):
    """A value of the field's own Python type, as services set them."""
    from django.db import models

    if f.choices:
        return type(f.choices[0][0])(f.choices[0][0]) if not hasattr(f, "flatchoices") else f.flatchoices[0][0]
    if isinstance(f, models.BooleanField):
        return True
    if isinstance(f, (models.IntegerField, models.BigIntegerField)):
        return 7
    if isinstance(f, models.DecimalField):
        return Decimal("1.50")
    if isinstance(f, models.DateTimeField):
        return datetime.datetime(2026, 12, 2, 8, 0, 1, 5, tzinfo=datetime.timezone.utc)
    if isinstance(f, models.JSONField):
        return {"order": {"id": "ord_x", "amount": "1.10"}, "list": [1, None, "é"]}
    if isinstance(f, (models.CharField, models.TextField)):
        return "abc"
    return None


def _as_json(value):
    import json

    if isinstance(value, tuple) and value[:1] == ("Jsonb",):
        value = value[1]  # a JSONField's value: its object, in the row's JSON
    return json.loads(json.dumps(value, default=fastsql._json_default))


def test_every_field_of_every_model_saves_the_value_save_would():
    """fastsql's known save values (plain str/int/bool columns and keys, aware datetimes,
    decimals, JSON in a JSON row) are what each field's own pre_save and get_db_prep_save give,
    for every concrete field of every model of the project, with its default and with a sample
    value: the same object type where the value is bound as a parameter, the same JSON where it
    travels in a JSON row; auto_now fields take the time of the save."""
    from django.apps import apps
    from django.db import connection

    checked = set()
    for model in apps.get_models():
        fields = tuple(f for f in model._meta.local_concrete_fields if not isinstance(f, fastsql.AUTO_FIELDS))
        savers = fastsql._savers(model, fields, connection.alias)
        for how in ("default", "sample"):
            obj = model()
            for f in fields:
                if how == "sample" and not f.is_relation and _sample(f) is not None:
                    setattr(obj, f.attname, _sample(f))
            for saver in savers:
                f, kind = saver[0], saver[2]
                for json_rows in (False, True):
                    (fast,) = fastsql._save_values(obj, (saver,), connection, True, json_rows)
                    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                        assert fast == getattr(obj, f.attname) and fast.tzinfo is not None, f
                        continue
                    generic = _generic(obj, f, True)
                    if json_rows:
                        assert _as_json(_comparable(fast)) == _as_json(generic), (model, f)
                    else:
                        fast = _comparable(fast)
                        assert (type(fast), fast) == (type(generic), generic), (model, f)
                checked.add(kind)
    assert checked >= {fastsql._PLAIN, fastsql._KEY, fastsql._DATETIME, fastsql._DECIMAL, fastsql._JSON}


def test_values_of_another_type_go_through_the_fields_own_methods():
    from django.db import connection

    transfer = Transfer(network=7, mode="live", tx_hash="0x1", log_index=True, asset="ETH", amount=1.5,
                        block_number=7, block_hash="0xb", confirmations=0, order_id="",
                        block_time=datetime.datetime(2026, 12, 2, 8, 0))
    fields = tuple(Transfer._meta.get_field(name) for name in
                   ("network", "log_index", "amount", "order", "block_time"))
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        values = fastsql._save_values(transfer, fastsql._savers(Transfer, fields, connection.alias), connection,
                                      True, True)
    network, log_index, amount, order_id, block_time = values
    assert network == "7" and log_index == 1 and log_index is not True  # int(True), not the bool
    assert amount == Decimal("1.5") and isinstance(amount, Decimal)
    assert order_id == "" and block_time.tzinfo is not None


def test_the_any_lookup_finds_what_in_finds_with_one_parameter():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    merchant = MerchantFactory()
    events = [Event(merchant=merchant, mode="live", type="order.paid", data={}) for _ in range(30)]
    fastsql.insert_many(events)
    fastsql.insert_many([_transfer(f"0x{i}") for i in range(30)])
    ids = [e.pk for e in events[:20]] + ["evt_none"]
    transfer_ids = list(Transfer.objects.values_list("pk", flat=True)[:12])

    with CaptureQueriesContext(connection) as queries:
        found = set(Event.objects.filter(pk__any=ids).values_list("pk", flat=True))
        numbers = set(Transfer.objects.filter(pk__any=set(transfer_ids)).values_list("pk", flat=True))
        by_key = Event.objects.filter(merchant_id__any=[merchant.pk]).count()  # a foreign key
        none = list(Event.objects.filter(pk__any=[]))

    assert found == set(Event.objects.filter(pk__in=ids).values_list("pk", flat=True)) == {e.pk for e in events[:20]}
    assert numbers == set(transfer_ids) and by_key == 30 and none == []
    assert all("= ANY(" in q["sql"] for q in queries.captured_queries) and len(queries.captured_queries) == 3


def _row():
    import uuid

    moment = datetime.datetime(2026, 12, 2, 16, 30, 5, 120, tzinfo=datetime.timezone.utc)
    amsterdam_1930 = datetime.timezone(datetime.timedelta(minutes=19, seconds=32))  # an offset with seconds
    return {
        "aware": moment, "whole_second": moment.replace(microsecond=0), "naive": moment.replace(tzinfo=None),
        "seconds_offset": moment.replace(tzinfo=amsterdam_1930), "day": moment.date(), "time": moment.time(),
        "amount": Decimal("0.000000000000000001"), "uid": uuid.UUID(int=7), "status": TransferStatus.SEEN,
        "data": {1: "int key", False: "bool key", None: "none key", "n": 2**63, "f": 1.5, "tiny": 1e-300,
                 "nested": [None, True, "é", (1, 2)]},
    }


def test_rows_orjson_writes_read_back_as_the_standard_librarys_json(monkeypatch):
    import json

    from core import fastsql

    row = _row()
    expected = json.loads(json.dumps([row], default=fastsql._json_default, allow_nan=False))
    with monkeypatch.context() as patched:  # the row must take orjson's path, not the fallback
        patched.setattr(fastsql.json, "dumps", lambda *a, **k: pytest.fail("fell back to json.dumps"))
        text = fastsql._dumps([row])
    assert json.loads(text) == expected
    assert '"seconds_offset":"2026-12-02T16:30:05.000120+00:19:32"' in text  # isoformat's, not rounded


@pytest.mark.parametrize("odd", [
    datetime.time(1, 2, tzinfo=datetime.timezone.utc),  # orjson refuses an aware time
    2**70,  # past 64 bits
    {1.5: "float key"},
])
def test_what_orjson_would_write_otherwise_is_left_to_the_standard_library(odd):
    import json

    from core import fastsql

    row = {**_row(), "odd": odd}
    assert json.loads(fastsql._dumps([row])) == json.loads(
        json.dumps([row], default=fastsql._json_default, allow_nan=False))


def test_values_json_refuses_are_refused_as_before():
    import dataclasses
    import enum

    from core import fastsql

    @dataclasses.dataclass
    class Point:
        x: float

    class Colour(enum.Enum):
        RED = 1

    for refused in (Point(1.0), Colour.RED):
        with pytest.raises(TypeError):
            fastsql._dumps([{"data": {"v": refused}}])
    shared = {"a": 1}
    cyclic = [shared]
    cyclic.append(cyclic)
    with pytest.raises(ValueError):
        fastsql._dumps([{"data": cyclic}])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_nan_or_infinite_float_is_refused_not_written_as_null(bad):
    from core import fastsql

    merchant = MerchantFactory()
    event = Event(merchant=merchant, mode="live", type="order.paid", data={"order": {"x": [1, {"y": bad}]}})
    with pytest.raises(ValueError):
        fastsql._dumps([{"data": {bad: "a key"}}])

    with pytest.raises(ValueError):
        fastsql.insert_many([event])
    saved = Event.objects.create(merchant=merchant, mode="live", type="order.paid", data={})
    saved.data = {"deep": [[bad]]}
    with pytest.raises(ValueError):
        fastsql.update_many([saved], ["data"])
    assert Event.objects.get(pk=saved.pk).data == {} and Event.objects.count() == 1
