"""`manage.py createmerchant --name NAME --email EMAIL [--payout NETWORK=ADDRESS ...]`

Prints one JSON object on stdout (CONTRACT.md, "Bootstrap command"). The secrets in it are
shown this once: only their encrypted form is stored.
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from merchants.services import merchant_create


def _parse_payout(value: str) -> tuple[str, str]:
    network, sep, address = value.partition("=")
    if not sep or not network.strip() or not address.strip():
        raise CommandError(f"--payout must look like NETWORK=ADDRESS, got {value!r}")
    return network.strip().lower(), address.strip()


class Command(BaseCommand):
    help = "Create a merchant with a test and a live API key; prints them as JSON, once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--payout", action="append", default=[], metavar="NETWORK=ADDRESS")

    def handle(self, *args, name: str, email: str, payout: list[str], **options) -> None:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"--email: {email!r} is not an email address") from exc
        if not name.strip():
            raise CommandError("--name must not be empty")
        payouts = dict(_parse_payout(item) for item in payout)
        try:
            merchant, keys = merchant_create(name=name.strip(), email=email, payouts=payouts)
        except ValueError as exc:  # an unknown network or an invalid address
            raise CommandError(str(exc)) from exc
        result = {"merchant_id": merchant.id}
        for mode, issued in keys.items():
            result[str(mode)] = {"key_id": issued.api_key.key_id, "secret": issued.secret}
        self.stdout.write(json.dumps(result))
