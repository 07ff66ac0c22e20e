"""`manage.py createmerchant --name NAME --email EMAIL [--payout NETWORK=ADDRESS ...] [--password-stdin]`

Prints one JSON object on stdout (CONTRACT.md, "Bootstrap command"). The secrets in it are
shown this once: only their encrypted form is stored.

It also creates the merchant's owner, the portal user who signs in with EMAIL. With
--password-stdin the owner's password is read from standard input (its first line); without
it the JSON carries `owner.set_password_url`, a one-time link to choose one (the portal's
password reset link: it stops working once used).
"""

import json
import sys

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.errors import DomainError
from merchants.models import Role
from merchants.services import merchant_create, merchant_user_create


def _parse_payout(value: str) -> tuple[str, str]:
    network, sep, address = value.partition("=")
    if not sep or not network.strip() or not address.strip():
        raise CommandError(f"--payout must look like NETWORK=ADDRESS, got {value!r}")
    return network.strip().lower(), address.strip()


def set_password_url(user) -> str:
    """A one-time link to the portal's "choose a password" page for `user`."""
    path = reverse("portal:password-reset-confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)})
    base = (getattr(settings, "FLUXA_PUBLIC_URL", "") or "http://127.0.0.1:8000").rstrip("/")
    return base + path


class Command(BaseCommand):
    help = "Create a merchant with a test and a live API key and its owner user; prints them as JSON, once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--payout", action="append", default=[], metavar="NETWORK=ADDRESS")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the owner's portal password from the first line of standard input")

    def handle(self, *args, name: str, email: str, payout: list[str], password_stdin: bool, **options) -> None:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"--email: {email!r} is not an email address") from exc
        if not name.strip():
            raise CommandError("--name must not be empty")
        payouts = dict(_parse_payout(item) for item in payout)
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: standard input holds no password")
        try:
            with transaction.atomic():
                merchant, keys = merchant_create(name=name.strip(), email=email, payouts=payouts)
                if password is not None:
                    validate_password(password)
                owner = merchant_user_create(merchant=merchant, email=email, role=Role.OWNER, password=password)
        except ValidationError as exc:  # a password the validators refuse
            raise CommandError("--password-stdin: " + " ".join(exc.messages)) from exc
        except DomainError as exc:  # the email already signs in for another merchant
            raise CommandError(exc.message) from exc
        except ValueError as exc:  # an unknown network or an invalid address
            raise CommandError(str(exc)) from exc
        result = {"merchant_id": merchant.id}
        for mode, issued in keys.items():
            result[str(mode)] = {"key_id": issued.api_key.key_id, "secret": issued.secret}
        result["owner"] = {"email": owner.user.email, "role": owner.role}
        if password is None:
            result["owner"]["set_password_url"] = set_password_url(owner.user)
        self.stdout.write(json.dumps(result))
