"""Sign-in, sign-out, password reset, two-factor (django-otp TOTP), the mode switch."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.modes import Mode
from portal.access import MODE_KEY, portal_view, start_session
from portal.forms import LoginForm, OtpTokenForm, PasswordConfirmForm


class LoginView(auth_views.LoginView):
    """Django's login view and form; wrong passwords are throttled by
    core.login_throttle.ThrottledModelBackend (per address and per email)."""

    template_name = "portal/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        start_session(self.request)
        return response


class LogoutView(auth_views.LogoutView):  # POST only (Django 5)
    next_page = reverse_lazy("portal:login")


password_reset = auth_views.PasswordResetView.as_view(
    template_name="portal/password_reset.html", email_template_name="portal/password_reset_email.txt",
    subject_template_name="portal/password_reset_subject.txt",
    success_url=reverse_lazy("portal:password-reset-done"))
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="portal/password_reset_confirm.html", success_url=reverse_lazy("portal:password-reset-complete"))
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="portal/password_reset_complete.html")


def _safe_next(request, default: str = "portal:dashboard"):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


@portal_view(otp=False)
def otp_verify(request):
    """The second step of sign-in for a user with a confirmed TOTP device."""
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return _safe_next(request)
        form.add_error("token", "That code is not valid (or was used already). Try the next one.")
    return render(request, "portal/otp_verify.html", {"form": form, "next": request.GET.get("next", "")})


@portal_view()
def otp_setup(request):
    """Turn TOTP on (scan, then prove a code) or off (password again)."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed is not None:
        form = PasswordConfirmForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if user.check_password(form.cleaned_data["password"]):
                TOTPDevice.objects.filter(user=user).delete()
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("portal:otp-setup")
            form.add_error("password", "Wrong password.")
        return render(request, "portal/otp_setup.html", {"enabled": True, "form": form})

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
        user=user, name="portal", confirmed=False)
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            messages.success(request, "Two-factor sign-in is on: each sign-in now asks for a code.")
            return redirect("portal:otp-setup")
        form.add_error("token", "That code does not match; check the time on your phone.")
    return render(request, "portal/otp_setup.html", {
        "enabled": False, "form": form, "qr": _qr_data_uri(device.config_url),
        "manual_key": base64.b32encode(device.bin_key).decode()})


@require_POST
@portal_view()
def switch_mode(request):
    mode = request.POST.get("mode")
    if mode in Mode.values:
        request.session[MODE_KEY] = mode
    return _safe_next(request)


def root(request):
    """`/` sends a visitor to the portal."""
    return redirect("portal:dashboard")
