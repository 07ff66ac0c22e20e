"""orders/services.py's status table: every move outside TRANSITIONS is refused."""

import pytest

from orders.models import Order
from orders.services import TRANSITIONS, InvalidTransition, order_transition
from testing.client import charge

pytestmark = pytest.mark.django_db


def test_every_transition_outside_the_table_is_refused(api):
    order = Order.objects.get(pk=charge(api)["order"]["id"])
    statuses = list(TRANSITIONS)
    for source in statuses:
        for target in statuses:
            order.status = source
            if target == source or target in TRANSITIONS[source]:
                continue
            with pytest.raises(InvalidTransition):
                order_transition(order, target, actor="test")
