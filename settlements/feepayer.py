"""The operator's fee payer per network: the account that pays gas top-ups (EVM, Tron) and
transaction fees (Solana), derived from the HD root on its own path. `manage.py feepayer`
prints its address and balance; the beat job check_fee_payers records the balance so that
/healthz reports one running low before it blocks anything."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from chains.adapters.base import ChainUnavailable
from chains.adapters.registry import configured
from chains.networks import get_network
from core.money import money
from settlements import keys
from settlements.families import family_for, supported
from settlements.models import FeePayerBalance


def low_threshold(network: str) -> Decimal | None:
    value = settings.FLUXA_FEE_PAYER_LOW.get(network)
    return None if value is None else Decimal(str(value))


def fee_payers(*, mode: str = "live") -> dict[str, dict]:
    """{network: {"address", "balance" (decimal string or null), "asset", "low", "error"?}} for
    every configured network of `mode` with settlement rules."""
    found: dict[str, dict] = {}
    for network, configured_mode in configured():
        if configured_mode != mode or not supported(network):
            continue
        net = get_network(network)
        address = keys.fee_payer_address(network=network, mode=mode)
        entry: dict = {"address": address, "balance": None, "asset": net.native_symbol, "low": False}
        try:
            balance = family_for(network, mode).balance(address, asset=net.native_symbol)
        except (ChainUnavailable, NotImplementedError) as error:
            entry["error"] = str(error)[:300]
        else:
            entry["balance"] = money(balance)
            threshold = low_threshold(network)
            entry["low"] = threshold is not None and balance < threshold
        found[network] = entry
    return found


def fee_payers_check(*, mode: str = "live") -> list[FeePayerBalance]:
    rows = []
    for network, entry in fee_payers(mode=mode).items():
        row, _ = FeePayerBalance.objects.update_or_create(
            network=network, mode=mode,
            defaults={"address": entry["address"], "asset": entry["asset"],
                      "balance": None if entry["balance"] is None else Decimal(entry["balance"]),
                      "low": entry["low"], "error": entry.get("error", ""), "checked_at": timezone.now()})
        rows.append(row)
    return rows


def fee_payer_notices(*, mode: str = "live") -> list[dict]:
    """What /healthz and the portal show: each fee payer below its threshold."""
    return [{"network": row.network, "address": row.address, "balance": money(row.balance), "asset": row.asset,
             "checked_at": row.checked_at.isoformat()}
            for row in FeePayerBalance.objects.filter(mode=mode, low=True).order_by("network")]
