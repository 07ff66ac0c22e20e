"""Django's debug page and error mails, minus fluxa's secrets.

Django already hides settings and request.META entries whose names contain API, AUTH, TOKEN, KEY,
SECRET, PASS or SIGNATURE. The HD wallet mnemonic travels as FLUXA_WALLET_MNEMONIC, and the
development server copies the whole environment into request.META, so MNEMONIC and SEED are
hidden too, and so are DATABASES and every *_URL (DATABASE_URL, CELERY_BROKER_URL and CACHE_URL
carry passwords). Enabled by settings.DEFAULT_EXCEPTION_REPORTER_FILTER.
"""

import re

from django.views.debug import SafeExceptionReporterFilter


class FluxaExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|MNEMONIC|SEED|DATABASE|_URL$",
        flags=re.IGNORECASE
    )
