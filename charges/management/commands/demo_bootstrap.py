"""Creates the demo merchant of `make run` on first start and prints its test key once."""

from django.core.management.base import BaseCommand

from charges.services import charge_create
from core.modes import Mode
from merchants.models import Merchant
from merchants.services import merchant_create
from orders.services import order_simulate_payment

DEMO_EMAIL = "demo@fluxa.invalid"


def _demo_orders(merchant, *, actor: str) -> list:
    """A few test-mode orders to look at: paid, partly paid (pending, underpaid), and new."""
    from decimal import Decimal

    specs = [
        ({"merchant_order_id": "demo-1001", "amount": Decimal("49.90"), "currency": "USDT",
          "network": "tron", "subject": "Pro plan"}, None),
        ({"merchant_order_id": "demo-1002", "amount": Decimal("25"), "currency": "USDC", "channel": "usdc_base",
          "subject": "Starter plan", "customer": {"email": "ann@example.com", "name": "Ann Lee"}}, Decimal("10")),
        ({"merchant_order_id": "demo-1003", "amount": Decimal("0.01"), "currency": "ETH", "channel": "eth",
          "subject": "Donation"}, False),
    ]
    orders = []
    for data, pay in specs:
        result = charge_create(merchant=merchant, mode=Mode.TEST, data=data, actor=actor)
        if pay is not False:
            order_simulate_payment(order_id=result.order.id, amount=pay, actor=actor)
        orders.append(result.order)
    return orders


class Command(BaseCommand):
    help = "Create the demo merchant (first run only) and print its test key id and secret once."

    def handle(self, *args, **options) -> None:
        existing = Merchant.objects.filter(email=DEMO_EMAIL).first()
        if existing is not None:
            key = existing.api_keys.filter(mode=Mode.TEST, revoked_at__isnull=True).first()
            self.stdout.write(
                f"Demo merchant {existing.id} exists; test key id {key.key_id if key else '(none)'}.\n"
                "Its secret was printed at first start only. For a new key pair run:\n"
                f"  .venv/bin/python manage.py rollkey {existing.id} --mode test"
            )
            return
        merchant, keys = merchant_create(name="Demo Shop", email=DEMO_EMAIL)
        test = keys["test"]
        orders = _demo_orders(merchant, actor=f"demo:{test.api_key.key_id}")
        self.stdout.write(
            "\n".join(
                [
                    "=" * 72,
                    f"Demo merchant created: {merchant.id}, with {len(orders)} test orders",
                    f"  FLUXA_KEY_ID={test.api_key.key_id}",
                    f"  FLUXA_SECRET={test.secret}",
                    "This test-mode secret is shown once. Try it:",
                    "  FLUXA_KEY_ID=... FLUXA_SECRET=... .venv/bin/python -m fluxa_client GET /api/v1/account",
                    "=" * 72,
                ]
            )
        )
