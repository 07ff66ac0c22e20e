"""The portal's forms: they parse what a person typed; every rule stays in the services."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from chains.networks import NETWORKS
from core.money import money
from merchants.selectors import merchant_user_of
from orders.models import OrderStatus
from webhooks.events import EVENT_TYPES
from webhooks.models import DeliveryStatus


class LoginForm(AuthenticationForm):
    """Django's login form (fields `username`, the email, and `password`); only merchant
    users may sign in here."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match a portal account.",
    }
    username = forms.CharField(label="Email", max_length=254,
                               widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if merchant_user_of(user) is None:
            raise forms.ValidationError("This account is not a merchant portal account.", code="not_merchant")


def _day(value, *, end: bool) -> datetime:
    """A UTC day's start; with `end`, the next day's start (the list's bound is exclusive)."""
    start = datetime.combine(value, time.min, tzinfo=timezone.utc)
    return start + timedelta(days=1) if end else start


class OrderFilterForm(forms.Form):
    """The API's list filters (GET /api/v1/orders), as a person types them: dates are whole
    UTC days, `created_to` included."""

    status = forms.ChoiceField(choices=[("", "any status"), *OrderStatus.choices], required=False)
    merchant_order_id_prefix = forms.CharField(label="Reference starts with", max_length=128, required=False)
    merchant_order_id = forms.CharField(label="Reference", max_length=128, required=False)
    customer = forms.CharField(label="Customer (email or name)", min_length=2, max_length=200, required=False)
    network = forms.ChoiceField(choices=[("", "any network"), *((n, n) for n in NETWORKS)], required=False)
    channel = forms.CharField(max_length=32, required=False)
    from_address = forms.CharField(label="Payer address", max_length=128, required=False)
    product_id = forms.CharField(label="Product", max_length=64, required=False)
    payment_link_id = forms.CharField(label="Payment link", max_length=64, required=False)
    created_from = forms.DateField(label="From (UTC day)", required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label="To (UTC day, included)", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def selector_filters(self) -> dict:
        """The cleaned values in the shape orders.selectors.order_list takes."""
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        if "created_from" in data:
            data["created_from"] = _day(data["created_from"], end=False)
        if "created_to" in data:
            data["created_to"] = _day(data["created_to"], end=True)
        return data


class ApiKeyForm(forms.Form):
    label = forms.CharField(max_length=100, required=False)


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    description = forms.CharField(max_length=500, required=False)
    enabled_events = forms.MultipleChoiceField(
        choices=[("*", "every event"), *((t, t) for t in EVENT_TYPES)], required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None chosen: every event.")


class RotateForm(forms.Form):
    overlap_seconds = forms.IntegerField(min_value=0, max_value=7 * 86400, initial=86400,
                                         help_text="How long the old secret keeps signing too.")


class DeliveryFilterForm(forms.Form):
    endpoint = forms.CharField(max_length=64, required=False)
    status = forms.ChoiceField(choices=[("", "any status"), *DeliveryStatus.choices], required=False)
    type = forms.ChoiceField(choices=[("", "any type"), *((t, t) for t in EVENT_TYPES)], required=False)


class PayoutAddressForm(forms.Form):
    network = forms.ChoiceField(choices=[(n, n) for n in NETWORKS])
    address = forms.CharField(max_length=128)
    password = forms.CharField(widget=forms.PasswordInput, required=False,
                               help_text="Your password: needed to change a live address.")


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput)


class RefundForm(forms.Form):
    amount = forms.DecimalField(max_digits=38, decimal_places=18, min_value=0, required=False,
                                help_text="Empty: all that is left.")
    reason = forms.CharField(max_length=500)


class DepositRefundForm(forms.Form):
    """The address a deposit refund goes to (refunds.services.deposit_refund_quote checks it for
    the order's network and mode); empty: the order's own refund address."""
    refund_address = forms.CharField(label="Refund address", max_length=128, required=False,
                                     widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    destination_tag = forms.IntegerField(label="Destination tag", min_value=0, max_value=2**32 - 1, required=False)
    reason = forms.CharField(max_length=500, required=False)


class DepositRefundConfirmForm(DepositRefundForm):
    """The confirmation of a quote: the net the person was shown goes back with it, and the
    service refuses a quote that moved since (refund_quote_changed)."""
    net = forms.DecimalField(max_digits=38, decimal_places=18, min_value=0, widget=forms.HiddenInput)


class SimulateForm(forms.Form):
    amount = forms.DecimalField(max_digits=38, decimal_places=18, required=False,
                                help_text="Empty: what is still due.")


class SettingsForm(forms.Form):
    default_expiry_seconds = forms.IntegerField(label="Unpaid orders expire after (seconds)")
    underpaid_tolerance_percent = forms.DecimalField(label="Underpayment tolerance (%)", max_digits=5,
                                                     decimal_places=2)
    accept_late_payments = forms.BooleanField(label="A full payment after expiry marks the order paid",
                                              required=False)
    auto_refund = forms.BooleanField(label="Automatic refunds", required=False, help_text=(
        "Overpayment excess, late payments the setting above refuses, and funds that reach an order after it "
        "closed go back on-chain to the order's refund address by themselves (orders that settle to your wallet "
        "and have a refund address). What an order received before you canceled it waits for you. Off by "
        "default."))


class OtpTokenForm(forms.Form):
    token = forms.RegexField(regex=r"^[0-9]{6,8}$", label="Code from your authenticator app",
                             widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                           "inputmode": "numeric"}))


# --- products and payment links ----------------------------------------------------------------

CURRENCY = r"^[A-Za-z]{2,10}$"


def _utc_minute(**kwargs) -> forms.DateTimeField:
    """A time typed to the minute in a datetime-local input, read as UTC (TIME_ZONE)."""
    return forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                          format="%Y-%m-%dT%H:%M"), **kwargs)


class ProductForm(forms.Form):
    """What checkout.services.product_create / product_update take; the price rules (above
    0, a currency some channel collects, its decimals) are the service's."""
    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=2000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    price = forms.DecimalField(max_digits=38, decimal_places=18)
    currency = forms.RegexField(regex=CURRENCY, max_length=10, help_text="A fiat currency (EUR, USD, ...) or "
                                "an asset a channel collects (USDT, BTC, ...).")

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()


class PaymentLinkForm(forms.Form):
    """What checkout.services.payment_link_create takes: a product or an amount with its
    currency (the service refuses both or neither), and the optional parts."""
    product = forms.ChoiceField(required=False, label="Product")
    amount = forms.DecimalField(max_digits=38, decimal_places=18, required=False,
                                label="Or a fixed amount")
    currency = forms.RegexField(regex=CURRENCY, max_length=10, required=False,
                                label="Currency of the amount")
    subject = forms.CharField(max_length=200, required=False, help_text="Shown to the payer; "
                              "empty: the product's name.")
    channel = forms.ChoiceField(required=False, label="Channel",
                                help_text="The one way every order pays; empty: the payer chooses.")
    return_url = forms.URLField(max_length=2000, required=False, assume_scheme="https",
                                label="Return URL (after paying)")
    cancel_url = forms.URLField(max_length=2000, required=False, assume_scheme="https",
                                label="Cancel URL")
    max_uses = forms.IntegerField(min_value=1, max_value=1_000_000_000, required=False,
                                  label="At most this many orders", help_text="Empty: no limit.")
    expires_at = _utc_minute(label="Ends at (UTC)", help_text="Empty: never.")

    def __init__(self, *args, products=(), channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "none: a fixed amount"),
                                          *((p.id, f"{p.name} ({money(p.price)} {p.currency})")
                                            for p in products)]
        self.fields["channel"].choices = [("", "the payer chooses"),
                                          *((c.code, f"{c.name} ({c.code})") for c in channels)]

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()

    def service_data(self) -> dict:
        """The cleaned values the person gave, in the shape payment_link_create takes."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class PaymentLinkEditForm(forms.Form):
    """What checkout.services.payment_link_update changes besides on/off: an empty limit or
    end means none."""
    subject = forms.CharField(max_length=200, required=False)
    return_url = forms.URLField(max_length=2000, required=False, assume_scheme="https",
                                label="Return URL (after paying)")
    cancel_url = forms.URLField(max_length=2000, required=False, assume_scheme="https", label="Cancel URL")
    max_uses = forms.IntegerField(min_value=1, max_value=1_000_000_000, required=False,
                                  label="At most this many orders", help_text="Empty: no limit.")
    expires_at = _utc_minute(label="Ends at (UTC)", help_text="Empty: never.")
