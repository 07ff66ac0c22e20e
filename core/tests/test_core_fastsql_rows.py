"""core/fastsql.py: instances loaded from hand-written SQL equal what the ORM loads."""

from decimal import Decimal

import pytest
from django.db import connection

from core import fastsql
from merchants.auth import api_key_lookup
from merchants.models import ApiKey, Merchant

pytestmark = pytest.mark.django_db


def _values(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_the_api_key_lookup_loads_what_the_orm_loads(merchant_keys):
    merchant = merchant_keys.merchant
    merchant.fee_percent = Decimal("1.25")
    merchant.save()
    key_id = merchant_keys.test.key_id

    loaded = api_key_lookup(key_id)
    orm = ApiKey.objects.select_related("merchant").get(key_id=key_id)

    assert _values(loaded) == _values(orm) and _values(loaded.merchant) == _values(orm.merchant)
    assert loaded.merchant.fee_percent == Decimal("1.25") and loaded.created_at.tzinfo is not None
    assert api_key_lookup("fk_test_nobody") is None


def test_a_loaded_instance_is_a_row_that_save_updates(merchant_keys):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {fastsql.select_list(Merchant, 'm')} FROM merchants_merchant m WHERE m.id = %s",
                       [merchant_keys.merchant.pk])
        merchant = fastsql.load(Merchant, cursor.fetchone())

    assert not merchant._state.adding and merchant._state.db == "default"
    merchant.name = "Renamed"
    merchant.save()
    assert Merchant.objects.count() >= 1 and Merchant.objects.get(pk=merchant.pk).name == "Renamed"
