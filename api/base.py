"""What every merchant-facing view shares: the signed principal, its mode, and the
Idempotency-Key header on POST."""

from rest_framework.views import APIView

from api.idempotency import StoredResponse, idempotency_begin, idempotency_finish
from merchants.models import ApiKey, Merchant


class MerchantAPIView(APIView):
    """Views read `self.merchant` and `self.mode`; selectors take both, so no view can reach
    another merchant's (or the other mode's) objects."""

    _idempotency = None

    @property
    def merchant(self) -> Merchant:
        return self.request.user

    @property
    def api_key(self) -> ApiKey:
        return self.request.auth

    @property
    def mode(self) -> str:
        return self.request.auth.mode

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        self._idempotency = idempotency_begin(request, merchant=self.merchant, mode=self.mode)

    def handle_exception(self, exc):
        if isinstance(exc, StoredResponse):
            return exc.response()
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency is not None:
            idempotency_finish(self._idempotency, response)
            self._idempotency = None
        return response
