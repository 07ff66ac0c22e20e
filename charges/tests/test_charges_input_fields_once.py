"""ChargeInputSerializer builds its fields once per class and gives each instance copies
(FieldsCopiedOnceMixin): every instance keeps its own result, also across threads."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from charges.api.serializers import ChargeInputSerializer

GOOD = {"amount": "10.5", "currency": "usdt", "network": "tron", "customer": {"email": "a@b.example"}}
BAD = {"amount": 3, "currency": "U", "customer": {"email": "not-an-email"}, "expires_in_seconds": 1}


def _validate(data):
    serializer = ChargeInputSerializer(data=data)
    return serializer.is_valid(), (serializer.validated_data if serializer.is_valid() else serializer.errors)


def test_each_instance_binds_its_own_copies_of_fields_built_once():
    one, two = ChargeInputSerializer(), ChargeInputSerializer(data=GOOD)
    assert list(one.fields) == list(two.fields) == list(ChargeInputSerializer._declared_fields)
    for name in one.fields:
        assert one.fields[name] is not two.fields[name]
        assert one.fields[name].parent is one and two.fields[name].parent is two
    assert one.fields["customer"].fields["email"] is not two.fields["customer"].fields["email"]


def test_each_instance_keeps_its_own_result():
    bad_ok, errors = _validate(BAD)
    good_ok, data = _validate(GOOD)

    assert not bad_ok and set(errors) == {"amount", "currency", "customer", "expires_in_seconds"}
    assert good_ok and data["amount"] == Decimal("10.5") and data["currency"] == "USDT"
    assert data["customer"] == {"email": "a@b.example"} and "expires_in_seconds" not in data


def test_concurrent_validations_do_not_mix():
    def one(i):
        if i % 2:
            ok, errors = _validate({**BAD, "merchant_order_id": f"m{i}"})
            return not ok and set(errors) == {"amount", "currency", "customer", "expires_in_seconds"}
        ok, data = _validate({**GOOD, "amount": f"{i}.25", "merchant_order_id": f"m{i}"})
        return ok and data["amount"] == Decimal(f"{i}.25") and data["merchant_order_id"] == f"m{i}"

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(2000)))
