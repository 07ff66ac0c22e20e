"""Security headers on every portal page (and the redirect at /): the strict CSP of
api/csp.py with forms allowed to post back to fluxa, the referrer sent to fluxa's own pages
only, no caching."""

from api.csp import PORTAL_HEADERS, PORTAL_POLICY, with_policy


class PortalHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path == "/" or request.path.startswith("/portal/"):
            with_policy(response, PORTAL_POLICY, PORTAL_HEADERS)
        return response
