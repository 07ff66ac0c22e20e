"""Creates the demo merchant of `make run` on first start and prints its test key once."""

from django.core.management.base import BaseCommand

from merchants.models import Merchant
from merchants.services import merchant_create

DEMO_EMAIL = "demo@fluxa.invalid"


class Command(BaseCommand):
    help = "Create the demo merchant (first run only) and print its test key id and secret once."

    def handle(self, *args, **options) -> None:
        existing = Merchant.objects.filter(email=DEMO_EMAIL).first()
        if existing is not None:
            key = existing.api_keys.filter(mode="test", revoked_at__isnull=True).first()
            self.stdout.write(
                f"Demo merchant {existing.id} exists; test key id {key.key_id if key else '(none)'}.\n"
                "Its secret was printed at first start only. For a new key pair run:\n"
                f"  .venv/bin/python manage.py rollkey {existing.id} --mode test"
            )
            return
        merchant, keys = merchant_create(name="Demo Shop", email=DEMO_EMAIL)
        test = keys["test"]
        self.stdout.write(
            "\n".join(
                [
                    "=" * 72,
                    f"Demo merchant created: {merchant.id}",
                    f"  FLUXA_KEY_ID={test.api_key.key_id}",
                    f"  FLUXA_SECRET={test.secret}",
                    "This test-mode secret is shown once. Try it:",
                    "  FLUXA_KEY_ID=... FLUXA_SECRET=... .venv/bin/python -m fluxa_client GET /api/v1/account",
                    "=" * 72,
                ]
            )
        )
