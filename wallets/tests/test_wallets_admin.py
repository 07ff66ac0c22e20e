"""The admin shows the root's fingerprint only, and read-only addresses and transfers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from wallets.models import DepositAddress, Transfer, WalletRoot
from wallets.services import deposit_address_reserve, wallet_root_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(rare_mnemonic, make_order):
    root, _ = wallet_root_import(mnemonic=rare_mnemonic)
    order = make_order()
    address = deposit_address_reserve(network="ethereum", mode="test", order=order)
    transfer = Transfer.objects.create(network="ethereum", mode="test", tx_hash="0x" + "ab" * 32, log_index=3,
                                       deposit_address=address, order=order, asset="TST", amount=Decimal("2"))
    return root, address, transfer


def _pages(root, address, transfer) -> list[str]:
    pages = []
    for model, obj in ((WalletRoot, root), (DepositAddress, address), (Transfer, transfer)):
        info = (model._meta.app_label, model._meta.model_name)
        pages += [
            reverse("admin:%s_%s_changelist" % info),
            reverse("admin:%s_%s_change" % info, args=[obj.pk]),
            reverse("admin:%s_%s_history" % info, args=[obj.pk]),
        ]
    return pages + [reverse("admin:index"), reverse("admin:app_list", args=["wallets"])]


def test_admin_pages_never_show_the_mnemonic(admin_client, populated, rare_mnemonic, rare_words):
    root, address, transfer = populated
    for url in _pages(*populated):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert rare_mnemonic not in html
        assert root.mnemonic_encrypted not in html
        leaked = [w for w in rare_words if re.search(rf"\b{w}\b", html, flags=re.IGNORECASE)]
        assert leaked == [], (url, leaked)

    detail = admin_client.get(reverse("admin:wallets_walletroot_change", args=[root.pk])).content.decode()
    assert root.fingerprint in detail
    listing = admin_client.get(reverse("admin:wallets_depositaddress_changelist")).content.decode()
    assert address.address in listing


def test_nothing_can_be_added_changed_or_deleted(admin_client, populated):
    root, address, transfer = populated
    for model, obj in ((WalletRoot, root), (DepositAddress, address), (Transfer, transfer)):
        info = (model._meta.app_label, model._meta.model_name)
        assert admin_client.get(reverse("admin:%s_%s_add" % info)).status_code == 403
        assert admin_client.get(reverse("admin:%s_%s_delete" % info, args=[obj.pk])).status_code == 403
        response = admin_client.post(reverse("admin:%s_%s_change" % info, args=[obj.pk]), {"fingerprint": "0"})
        assert response.status_code == 403
    assert WalletRoot.objects.get().fingerprint == root.fingerprint


def test_list_filters(admin_client, populated):
    url = reverse("admin:wallets_depositaddress_changelist")
    assert admin_client.get(url, {"state": "assigned", "network": "ethereum", "mode": "test"}).status_code == 200
    url = reverse("admin:wallets_transfer_changelist")
    assert admin_client.get(url, {"status": "seen", "simulated__exact": "0"}).status_code == 200
