"""The bare reference of bench/coldstart.py: fluxa's WSGI application as it was loaded before
fluxa_site/wsgi.py imported everything at start (plain `get_wsgi_application()`, the URLconf
and the chain libraries imported by each worker's first request)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")

application = get_wsgi_application()
