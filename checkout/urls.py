from django.urls import path

from checkout import views

urlpatterns = [
    path("pay/<str:token>", views.checkout_page, name="checkout-page"),
    path("pay/<str:token>/choose", views.checkout_choose, name="checkout-choose"),
    path("pay/<str:token>/status", views.checkout_status, name="checkout-status"),
    path("l/<str:link_id>", views.payment_link_visit, name="payment-link"),
]
