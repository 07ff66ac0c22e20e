"""The merchant portal under /portal/ (docs/portal.md)."""

from django.urls import path, register_converter

from portal.views import account, auth, catalog, developers, orders


class ObjectId:
    regex = r"[A-Za-z0-9_.\-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ObjectId, "pid")

app_name = "portal"

urlpatterns = [
    path("", account.dashboard, name="dashboard"),
    path("login", auth.LoginView.as_view(), name="login"),
    path("logout", auth.LogoutView.as_view(), name="logout"),
    path("password-reset", auth.password_reset, name="password-reset"),
    path("password-reset/sent", auth.password_reset_done, name="password-reset-done"),
    path("reset/<uidb64>/<token>", auth.password_reset_confirm, name="password-reset-confirm"),
    path("reset/done", auth.password_reset_complete, name="password-reset-complete"),
    path("two-factor", auth.otp_setup, name="otp-setup"),
    path("two-factor/verify", auth.otp_verify, name="otp-verify"),
    path("mode", auth.switch_mode, name="mode"),
    path("orders", orders.order_list, name="orders"),
    path("orders.csv", orders.order_csv, name="orders-csv"),
    path("orders/<pid:order_id>", orders.order_detail, name="order-detail"),
    path("orders/<pid:order_id>/status", orders.order_set_status, name="order-status"),
    path("orders/<pid:order_id>/simulate", orders.order_simulate, name="order-simulate"),
    path("orders/<pid:order_id>/refund", orders.order_refund, name="order-refund"),
    path("orders/<pid:order_id>/deposit-refund", orders.order_deposit_refund, name="order-deposit-refund"),
    path("products", catalog.product_list, name="products"),
    path("products/<pid:product_id>", catalog.product_detail, name="product-detail"),
    path("products/<pid:product_id>/toggle", catalog.product_toggle, name="product-toggle"),
    path("payment-links", catalog.payment_link_list, name="payment-links"),
    path("payment-links/<pid:link_id>", catalog.payment_link_detail, name="payment-link-detail"),
    path("payment-links/<pid:link_id>/toggle", catalog.payment_link_toggle, name="payment-link-toggle"),
    path("keys", developers.api_keys, name="api-keys"),
    path("keys/<pid:key_id>/revoke", developers.api_key_revoke, name="api-key-revoke"),
    path("keys/<pid:key_id>/roll", developers.api_key_roll, name="api-key-roll"),
    path("webhooks", developers.webhook_endpoints, name="webhooks"),
    path("webhooks/<pid:endpoint_id>/toggle", developers.webhook_endpoint_toggle, name="webhook-toggle"),
    path("webhooks/<pid:endpoint_id>/rotate", developers.webhook_endpoint_rotate, name="webhook-rotate"),
    path("webhooks/<pid:endpoint_id>/test", developers.webhook_endpoint_test, name="webhook-test"),
    path("deliveries", developers.deliveries, name="deliveries"),
    path("events/<pid:event_id>/redeliver", developers.event_redeliver, name="event-redeliver"),
    path("payout-addresses", account.payout_addresses, name="payouts"),
    path("payout-addresses/<pid:network>/delete", account.payout_address_delete, name="payout-delete"),
    path("settings", account.merchant_settings, name="settings"),
]
