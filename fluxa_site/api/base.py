"""What every merchant-facing view shares: the signed principal and its mode."""

from rest_framework.views import APIView

from merchants.models import ApiKey, Merchant


class MerchantAPIView(APIView):
    """Views read `self.merchant` and `self.mode`; selectors take both, so no view can reach
    another merchant's (or the other mode's) objects."""

    @property
    def merchant(self) -> Merchant:
        return self.request.user

    @property
    def api_key(self) -> ApiKey:
        return self.request.auth

    @property
    def mode(self) -> str:
        return self.request.auth.mode
