"""`manage.py rollkey MERCHANT_ID --mode test|live`: revoke the mode's active keys and print a
new key pair as JSON, once."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.modes import Mode
from merchants.models import Merchant
from merchants.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Replace a merchant's API key of one mode; prints the new key id and secret once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("merchant_id")
        parser.add_argument("--mode", choices=Mode.values, required=True)
        parser.add_argument("--keep-old", action="store_true", help="do not revoke the current keys")

    def handle(self, *args, merchant_id: str, mode: str, keep_old: bool, **options) -> None:
        merchant = Merchant.objects.filter(pk=merchant_id).first()
        if merchant is None:
            raise CommandError(f"no merchant {merchant_id!r}")
        with transaction.atomic():
            if not keep_old:
                for api_key in merchant.api_keys.filter(mode=mode, revoked_at__isnull=True):
                    api_key_revoke(api_key=api_key)
            issued = api_key_create(merchant=merchant, mode=mode)
        self.stdout.write(json.dumps({"merchant_id": merchant.id, mode: {
            "key_id": issued.api_key.key_id, "secret": issued.secret}}))
