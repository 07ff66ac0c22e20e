"""The bare reference endpoints: the least a Django + DRF endpoint must do to answer the same
signed requests, with none of fluxa's machinery. docs/benchmarks.md compares fluxa to these.

Both are plain DRF APIViews with no authentication, permission or throttle classes. Each one
verifies the request's HMAC signature itself the way merchants/auth.py does (the key looked up
with its merchant, the secret decrypted with Fernet, the timestamp window checked, an HMAC
compared) and then:

* POST /bare/charges inserts the three rows a charge inserts (an Order, its Payment and its
  first OrderEvent) in one transaction and answers a small JSON object. It does NOT consume
  the signature (no replay row), route to a channel (usdt_trc20 is hard-wired), validate the
  input beyond parsing the amount, check merchant_order_id idempotency, look up the wallet
  root, reserve a deposit address, build a payment URI or QR links, or serialize the order.
* GET /bare/orders selects the newest 20 orders of the key's merchant and mode (not deleted,
  the columns fluxa's list returns) and answers them as JSON. It does NOT validate query
  parameters, filter, or count the total.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import secretbox
from merchants.models import ApiKey
from orders.models import Order, OrderEvent, Payment

WINDOW_SECONDS = 300
LIST_COLUMNS = ("id", "merchant_order_id", "channel_id", "network", "amount", "refunded_amount", "currency",
                "status", "payment_exception", "mode", "paid_at", "expires_at", "created_at")


def _denied(code: str) -> Response:
    return Response({"error": {"code": code}}, status=status.HTTP_401_UNAUTHORIZED)


def verify(request) -> ApiKey | Response:
    """The signed key of the request, or a 401 response."""
    raw = request._request
    key_id = raw.headers.get("X-Api-Key", "")
    timestamp = raw.headers.get("X-Timestamp", "")
    signature = raw.headers.get("X-Signature", "")
    api_key = ApiKey.objects.select_related("merchant").filter(key_id=key_id).first()
    if api_key is None or api_key.revoked_at is not None or not api_key.merchant.is_active:
        return _denied("invalid_api_key")
    # Unix seconds, or milliseconds (13 digits), as fluxa accepts them
    if not timestamp.isdigit() or abs(time.time() - int(timestamp) / (1000 if len(timestamp) == 13 else 1)) > WINDOW_SECONDS:
        return _denied("timestamp_out_of_window")
    target = raw.META.get("RAW_URI") or raw.get_full_path()
    message = f"{timestamp}\n{raw.method}\n{target}\n{hashlib.sha256(raw.body).hexdigest()}".encode()
    secret = secretbox.decrypt(api_key.secret_encrypted)
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return _denied("invalid_signature")
    return api_key


class BareView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


class BareChargeView(BareView):
    def post(self, request):
        api_key = verify(request)
        if isinstance(api_key, Response):
            return api_key
        data = request.data
        amount = Decimal(data["amount"])
        now = timezone.now()
        with transaction.atomic():
            order = Order.objects.create(
                merchant_id=api_key.merchant_id, mode=api_key.mode,
                merchant_order_id=data.get("merchant_order_id"), channel_id="usdt_trc20", network="tron",
                settlement_mode="direct", amount=amount, currency="USDT", asset="USDT", amount_due=amount,
                expires_at=now + timedelta(hours=1),
            )
            payment = Payment.objects.create(order=order, amount=amount, currency="USDT")
            OrderEvent.objects.create(order=order, from_status="", to_status=order.status,
                                      actor=f"merchant:{api_key.key_id}", reason="charge created")
        return Response({"id": order.id, "payment_id": payment.id, "status": order.status,
                         "amount": str(amount), "created_at": order.created_at},
                        status=status.HTTP_201_CREATED)


class BareOrderListView(BareView):
    def get(self, request):
        api_key = verify(request)
        if isinstance(api_key, Response):
            return api_key
        rows = list(
            Order.objects.filter(merchant_id=api_key.merchant_id, mode=api_key.mode, deleted_at__isnull=True)
            .order_by("-created_at", "-id").values(*LIST_COLUMNS)[:20]
        )
        return Response({"data": rows})


def bare_checkout_status(request, token: str):
    """GET /bare/checkout/<token>/status: the least a public status endpoint must do, a plain
    Django view: one indexed read of the order by its checkout token and three of its fields
    as JSON. It does NOT rate limit, build the payer's message, count confirmations, build the
    payment URI of what is still due or sign its QR link."""
    from django.http import JsonResponse

    row = Order.objects.filter(checkout_token=token).values("status", "amount_due", "amount_received").first()
    if row is None:
        return JsonResponse({"error": "not found"}, status=404)
    return JsonResponse({"status": row["status"], "amount_due": str(row["amount_due"]),
                         "amount_received": str(row["amount_received"])})
