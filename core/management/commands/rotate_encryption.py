"""`manage.py rotate_encryption`: re-encrypt every secret at rest under the first key of
FLUXA_ENCRYPTION_KEYS. Rotate by prepending a new key, running this, then dropping the old one."""

from django.core.management.base import BaseCommand
from django.db import transaction

from core import secretbox

# (model label, encrypted text columns)
ENCRYPTED_COLUMNS = [
    ("merchants.ApiKey", ["secret_encrypted"]),
    ("webhooks.WebhookEndpoint", ["secret_encrypted", "previous_secret_encrypted"]),
    ("wallets.WalletRoot", ["mnemonic_encrypted"]),
    ("api.IdempotencyKey", ["response_encrypted"]),
]


class Command(BaseCommand):
    help = "Re-encrypt all secrets at rest under the newest FLUXA_ENCRYPTION_KEYS key."

    def handle(self, *args, **options) -> None:
        from django.apps import apps

        total = 0
        for label, columns in ENCRYPTED_COLUMNS:
            model = apps.get_model(label)
            with transaction.atomic():
                for row in model.objects.select_for_update().only("pk", *columns).iterator():
                    changed = [c for c in columns if getattr(row, c)]
                    for column in changed:
                        setattr(row, column, secretbox.reencrypt(getattr(row, column)))
                    if changed:
                        row.save(update_fields=changed)
                        total += 1
        self.stdout.write(f"re-encrypted {total} rows")
