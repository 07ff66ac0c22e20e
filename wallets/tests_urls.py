"""A minimal urlconf for wallets' own view tests (`@pytest.mark.urls("wallets.tests_urls")`),
the same route that fluxa_site/urls.py serves."""

from django.urls import path

from wallets.views import qr_image

urlpatterns = [path("qr/<str:fmt>", qr_image, name="qr")]
