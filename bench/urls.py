"""fluxa's URLs, with the bare reference endpoints of bench/bare.py first (fluxa's `api/`
catch-all would otherwise answer them with a 404)."""

from django.urls import path

from bench import bare
from fluxa_site.urls import handler404, handler500  # noqa: F401
from fluxa_site.urls import urlpatterns as fluxa_urlpatterns

urlpatterns = [
    path("bare/charges", bare.BareChargeView.as_view(), name="bare-charges"),
    path("bare/orders", bare.BareOrderListView.as_view(), name="bare-orders"),
    path("bare/checkout/<str:token>/status", bare.bare_checkout_status, name="bare-checkout-status"),
    *fluxa_urlpatterns,
]
