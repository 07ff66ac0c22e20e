"""Creates the demo merchant of `make run` on first start and prints its test key once.

All or nothing: the merchant and its demo orders are created in one transaction, and the
secret is printed only after it has committed, so a bootstrap that fails leaves nothing behind
and the next start tries again. The demo orders go on channels whose network is not scanned in
test mode (no FLUXA_CHAINS entry): their payments are simulated, and a configured node that has
not been scanned yet (first start with `make run DEVCHAIN=1`) cannot refuse them.
"""

import secrets
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chains.adapters.registry import rpc_url
from charges.models import Channel
from charges.services import charge_create
from core.modes import Mode
from merchants.models import Merchant, Role
from merchants.services import merchant_create, merchant_user_create
from orders.services import order_simulate_payment

DEMO_EMAIL = "demo@fluxa.invalid"


# Each demo order: the channels it may go on, in order of preference; the first enabled one
# whose network is not scanned in test mode is used.
DEMO_SPECS = [
    (("usdt_trc20", "usdt_bsc", "usdc_polygon", "usdc_arbitrum"),
     {"merchant_order_id": "demo-1001", "amount": Decimal("49.90"), "subject": "Pro plan"},
     None),
    (("usdc_base", "usdc_arbitrum", "usdc_polygon", "usdt_bsc"),
     {"merchant_order_id": "demo-1002", "amount": Decimal("25"), "subject": "Starter plan",
      "customer": {"email": "ann@example.com", "name": "Ann Lee"}},
     Decimal("10")),
    (("eth", "eth_base", "bnb", "trx", "xrp"),
     {"merchant_order_id": "demo-1003", "amount": Decimal("0.01"), "subject": "Donation"},
     False),
]


def _demo_channel(codes: tuple[str, ...]) -> Channel:
    channels = {c.code: c for c in Channel.objects.filter(code__in=codes, enabled=True)}
    for code in codes:
        channel = channels.get(code)
        if channel is not None and not rpc_url(channel.network, Mode.TEST):
            return channel
    raise CommandError(f"No demo channel among {', '.join(codes)} is enabled on a network that is not "
                       "scanned in test mode; the demo merchant was not created.")


def _demo_orders(merchant, *, actor: str, base_url: str) -> list:
    """A few test-mode orders to look at: paid, partly paid (pending, underpaid), and new."""
    orders = []
    for codes, spec, pay in DEMO_SPECS:
        channel = _demo_channel(codes)
        # Priced in the channel's own asset: no exchange rate needed either.
        data = {**spec, "channel": channel.code, "currency": channel.asset,
                "amount": max(spec["amount"], channel.min_amount)}
        result = charge_create(merchant=merchant, mode=Mode.TEST, data=data, actor=actor, base_url=base_url)
        if pay is not False:
            order_simulate_payment(order_id=result.order.id, amount=pay, actor=actor)
        orders.append(result.order)
    return orders


class Command(BaseCommand):
    help = "Create the demo merchant (first run only) and print its test key id and secret once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="where the demo orders' checkout pages are served (FLUXA_PUBLIC_URL wins)")

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
        with transaction.atomic():
            merchant, keys = merchant_create(name="Demo Shop", email=DEMO_EMAIL)
            test = keys["test"]
            orders = _demo_orders(merchant, actor=f"demo:{test.api_key.key_id}", base_url=options["base_url"])
            password = secrets.token_urlsafe(12)
            merchant_user_create(merchant=merchant, email=DEMO_EMAIL, role=Role.OWNER, password=password)
        self.stdout.write(
            "\n".join(
                [
                    "=" * 72,
                    f"Demo merchant created: {merchant.id}, with {len(orders)} test orders",
                    f"  FLUXA_KEY_ID={test.api_key.key_id}",
                    f"  FLUXA_SECRET={test.secret}",
                    f"  Portal: /portal/login  email {DEMO_EMAIL}  password {password}",
                    "This test-mode secret and the portal password are shown once. Try the key:",
                    "  FLUXA_KEY_ID=... FLUXA_SECRET=... .venv/bin/python -m fluxa_client GET /api/v1/account",
                    f"The new order's checkout page: {orders[-1].checkout_url}",
                    "=" * 72,
                ]
            )
        )
