"""`manage.py feepayer`: the fee payer's address and balance per configured live network, as
JSON: {"ethereum": {"address": "0x...", "balance": "1.5", "asset": "ETH", "low": false}, ...}.
Fund each address with the network's native coin; a balance the node could not read is null
with an "error"."""

import json

from django.core.management.base import BaseCommand

from settlements.feepayer import fee_payers


class Command(BaseCommand):
    help = "Print the fee payer (gas account) address and balance per network as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--mode", choices=["live", "test"], default="live")

    def handle(self, *args, mode: str, **options):
        self.stdout.write(json.dumps(fee_payers(mode=mode), indent=2, sort_keys=True))
