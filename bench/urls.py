"""fluxa's URLs, with the bare reference endpoints of bench/bare.py first (fluxa's `api/`
catch-all would otherwise answer them with a 404)."""

from django.urls import path

from fluxa_site.urls import handler404, handler500, urlpatterns as fluxa_urlpatterns  # noqa: F401

from bench import bare

urlpatterns = [
    path("bare/charges", bare.BareChargeView.as_view(), name="bare-charges"),
    path("bare/orders", bare.BareOrderListView.as_view(), name="bare-orders"),
    *fluxa_urlpatterns,
]
