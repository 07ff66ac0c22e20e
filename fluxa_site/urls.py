from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from api.docs import docs_page, guide_image, guide_page
from api.errors import api_not_found
from api.health import healthz
from api.qr import qr_image
from charges.api import views as charge_views
from checkout.api import views as checkout_api_views
from merchants.api import views as merchant_views
from orders.api import views as order_views
from portal.views.auth import root as portal_root
from refunds.api import views as refund_views
from settlements.api import views as settlement_views
from webhooks.api import views as webhook_views


class ObjectId:
    """A path segment that names an object: ASCII letters, digits, '_', '-' and '.', at most 64.
    Anything else (a NUL, a surrogate, a 10 KB id) is no object: 404 before any query."""

    regex = r"[A-Za-z0-9_.\-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ObjectId, "oid")

api_v1 = [
    path("account", merchant_views.AccountView.as_view(), name="account"),
    path("payout_addresses", merchant_views.PayoutAddressListView.as_view(), name="payout-addresses"),
    path(
        "payout_addresses/<oid:network>",
        merchant_views.PayoutAddressDetailView.as_view(),
        name="payout-address-detail",
    ),
    path("channels", charge_views.ChannelListView.as_view(), name="channels"),
    path("charges", charge_views.ChargeCreateView.as_view(), name="charges"),
    path("orders", order_views.OrderListView.as_view(), name="orders"),
    path("orders/<oid:order_id>", order_views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<oid:order_id>/refund", refund_views.OrderRefundView.as_view(), name="order-refund"),
    path("orders/<oid:order_id>/refund_quote", refund_views.OrderRefundQuoteView.as_view(), name="order-refund-quote"),
    path("orders/<oid:order_id>/simulate_payment", order_views.SimulatePaymentView.as_view(),
         name="order-simulate-payment"),
    path("settlements", settlement_views.SettlementListView.as_view(), name="settlements"),
    path("products", checkout_api_views.ProductListView.as_view(), name="products"),
    path("products/<oid:product_id>", checkout_api_views.ProductDetailView.as_view(), name="product-detail"),
    path("payment_links", checkout_api_views.PaymentLinkListView.as_view(), name="payment-links"),
    path("payment_links/<oid:link_id>", checkout_api_views.PaymentLinkDetailView.as_view(),
         name="payment-link-detail"),
    path("webhook_endpoints", webhook_views.EndpointListView.as_view(), name="webhook-endpoints"),
    path("webhook_endpoints/<oid:endpoint_id>", webhook_views.EndpointDetailView.as_view(),
         name="webhook-endpoint-detail"),
    path("webhook_endpoints/<oid:endpoint_id>/rotate_secret", webhook_views.EndpointRotateSecretView.as_view(),
         name="webhook-endpoint-rotate"),
    path("events", webhook_views.EventListView.as_view(), name="events"),
    path("events/<oid:event_id>", webhook_views.EventDetailView.as_view(), name="event-detail"),
    path("events/<oid:event_id>/redeliver", webhook_views.EventRedeliverView.as_view(), name="event-redeliver"),
    path("event_types", webhook_views.EventTypeListView.as_view(), name="event-types"),
    path("notices", webhook_views.NoticeListView.as_view(), name="notices"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", docs_page, name="docs"),  # Swagger UI that signs "Try it out" in the browser (api/docs.py)
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

urlpatterns = [
    path("", portal_root, name="root"),
    path("portal/", include("portal.urls")),
    path("healthz", healthz, name="healthz"),
    path("qr/<str:fmt>", qr_image, name="qr"),
    path("admin/", admin.site.urls),
    path("docs/<slug:name>.md", guide_page, name="guide"),  # docs/*.md and README.md as HTML (api/docs.py)
    path("docs/<slug:name>.png", guide_image, name="guide-image"),
    path("docs/<slug:folder>/<slug:name>.png", guide_image, name="guide-folder-image"),
    path("api/v1/", include(api_v1)),
    path("", include("checkout.urls")),  # the payer's pages: /pay/<token>, /l/<payment link id>
    re_path(r"^api/", api_not_found),
]

handler400 = "api.errors.handler400"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
