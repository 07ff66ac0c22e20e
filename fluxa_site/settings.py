"""fluxa settings: everything that differs between machines comes from the environment.

Required: SECRET_KEY and FLUXA_ENCRYPTION_KEYS. `make run` writes both to .data/run.env on first
start; `make test` generates fresh ones per run; production sets them in its environment.
See README.md ("Configuration") for the full list.
"""

from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = env.str("FLUXA_ENV_FILE", default="")
if _env_file:
    environ.Env.read_env(_env_file, overwrite=False)

DATA_DIR = Path(env.str("FLUXA_DATA_DIR", default=str(BASE_DIR / ".data")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
# Old keys still accepted for signed values (sessions, QR links) after a rotation.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys (urlsafe base64, 32 bytes) that encrypt secrets at rest. The first one encrypts;
# every listed key decrypts, so a key can be rotated by prepending a new one.
FLUXA_ENCRYPTION_KEYS = env.list("FLUXA_ENCRYPTION_KEYS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "api",
    "merchants",
    "charges",
    "orders",
    "wallets",
    "refunds",
    "webhooks",
    "settlements",
    "portal",
    "checkout",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.errors.ApiExceptionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The payer's language from Accept-Language (the checkout pages; the API speaks English).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.PortalHeadersMiddleware",
]

ROOT_URLCONF = "fluxa_site.urls"
WSGI_APPLICATION = "fluxa_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context.portal",
            ],
        },
    },
]

# PostgreSQL in tests and production (postgres://user:pass@host:port/db);
# SQLite under .data/ is only the embedded default of `make run`.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'fluxa.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Parameters travel separately from the SQL (server-side binding), and a statement run
    # DB_PREPARE_THRESHOLD times on a connection becomes a prepared statement: PostgreSQL then
    # stops planning it again on every request (planning was a third of its CPU per charge).
    # Set DB_PREPARE_THRESHOLD=0 behind a pooler that cannot keep prepared statements
    # (PgBouncer in transaction mode before 1.21).
    prepare_threshold = env.int("DB_PREPARE_THRESHOLD", default=5)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": prepare_threshold or None}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis in tests and production (redis://...); a local-memory cache is the embedded default.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://fluxa")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the checkout pages (locale/; the compiled .mo files are committed).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Celery -----------------------------------------------------------------------------------
# Redis in tests and production; the embedded default is a file broker under <data>/broker
# (fluxa_site/broker.py: kombu's filesystem transport with atomic writes, so the worker never
# reads a half-written message), which needs no server and works across the web, worker and
# beat processes of `make run`.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    from fluxa_site.broker import broker_options

    CELERY_BROKER_TRANSPORT = "fluxa_site.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = broker_options(DATA_DIR / "broker")
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
# Four queues, so that a flood on one never delays the others (docs/deploy.md): chain scanning,
# settlements (money leaving), webhook deliveries, and the rest (maintenance). Tasks are routed by
# name; a worker started without -Q consumes all four (make run does), `-Q webhooks` only one.
FLUXA_QUEUES = ("scan", "settlements", "webhooks", "maintenance")
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in FLUXA_QUEUES)
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
CELERY_TASK_ROUTES = {
    "charges.tasks.scan_*": {"queue": "scan"},
    "settlements.tasks.*": {"queue": "settlements"},
    "refunds.tasks.*": {"queue": "settlements"},
    "webhooks.tasks.*": {"queue": "webhooks"},
}
# Beat may run on several machines: only the holder of a lease in the cache sends (fluxa_site/beat.py).
CELERY_BEAT_SCHEDULER = "fluxa_site.beat:LeasedScheduler"
FLUXA_BEAT_LEASE_SECONDS = env.float("FLUXA_BEAT_LEASE_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "merchants.purge_request_nonces": {
        "task": "merchants.tasks.purge_request_nonces",
        "schedule": 600.0,
    },
    "orders.expire_orders": {"task": "orders.tasks.expire_orders", "schedule": 30.0},
    "charges.refresh_rates": {
        "task": "charges.tasks.refresh_rates",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "charges.replenish_address_pool": {"task": "charges.tasks.replenish_address_pool", "schedule": 60.0},
    "wallets.release_idle_addresses": {"task": "wallets.tasks.release_idle_addresses", "schedule": 900.0},
    "webhooks.dispatch_due_deliveries": {
        "task": "webhooks.tasks.dispatch_due_deliveries",
        "schedule": 15.0,
        "options": {"expires": 14},
    },
    "charges.scan_networks": {"task": "charges.tasks.scan_networks", "schedule": 10.0, "options": {"expires": 9}},
    "settlements.plan_settlements": {"task": "settlements.tasks.plan_settlements", "schedule": 30.0,
                                     "options": {"expires": 29}},
    "settlements.advance_outbounds": {"task": "settlements.tasks.advance_outbounds", "schedule": 10.0,
                                      "options": {"expires": 9}},
    "refunds.advance_refunds": {"task": "refunds.tasks.advance_refunds", "schedule": 10.0,
                                "options": {"expires": 9}},
    "refunds.auto_refunds": {"task": "refunds.tasks.auto_refunds", "schedule": 60.0, "options": {"expires": 59}},
    "settlements.check_fee_payers": {"task": "settlements.tasks.check_fee_payers", "schedule": 300.0,
                                     "options": {"expires": 290}},
    "api.purge_idempotency_keys": {
        "task": "api.tasks.purge_idempotency_keys",
        "schedule": 3600.0,
    },
}

# --- API --------------------------------------------------------------------------------------
# The largest request body read (413 beyond it): a charge with full metadata is under 16 KiB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("FLUXA_MAX_BODY_BYTES", default=64 * 1024)
FLUXA_SIGNATURE_WINDOW_SECONDS = 300
# The platform fee on each order, in percent of the amount due (a merchant may override it).
FLUXA_FEE_PERCENT = env.str("FLUXA_FEE_PERCENT", default="1.0")
# Fiat pricing (docs/rates.md): market sources (name -> base URL), the fiats kept fresh, the
# sources a market rate needs, how far they may disagree, and how old a rate may be.
FLUXA_RATE_SOURCES = env.json("FLUXA_RATE_SOURCES", default={
    "coinbase": "https://api.coinbase.com",
    "kraken": "https://api.kraken.com",
    "bitstamp": "https://www.bitstamp.net",
})
FLUXA_PRICING_FIATS = env.list("FLUXA_PRICING_FIATS", default=["USD", "EUR"])
if env.str("FLUXA_RATE_MIN_SOURCES", default=""):
    FLUXA_RATE_MIN_SOURCES = env.int("FLUXA_RATE_MIN_SOURCES")
FLUXA_RATE_MAX_SPREAD = env.str("FLUXA_RATE_MAX_SPREAD", default="0.02")
FLUXA_RATE_MAX_AGE_SECONDS = env.int("FLUXA_RATE_MAX_AGE_SECONDS", default=300)
FLUXA_RATE_HTTP_TIMEOUT_SECONDS = env.int("FLUXA_RATE_HTTP_TIMEOUT_SECONDS", default=5)
# Deposit addresses (docs/wallets.md): free addresses kept derived per network and mode (0 turns
# the pool off), and how long an unfunded address stays watched after its order expires.
# The HD root comes from FLUXA_WALLET_MNEMONIC or FLUXA_WALLET_MNEMONIC_FILE, read by
# wallets.keys from the environment only: never a Django setting.
FLUXA_ADDRESS_POOL_SIZE = env.int("FLUXA_ADDRESS_POOL_SIZE", default=20)
# Charges route on the channel catalogue as each process last read it, at most this many
# seconds ago (0: read it for every charge). A change saved in the admin applies at once in
# the process that saved it, and within this time everywhere else.
FLUXA_CHANNEL_CACHE_SECONDS = env.float("FLUXA_CHANNEL_CACHE_SECONDS", default=5.0)
FLUXA_ADDRESS_MONITOR_SECONDS = env.int("FLUXA_ADDRESS_MONITOR_SECONDS", default=86400)
# Django's debug page must not show secrets from settings or the environment.
DEFAULT_EXCEPTION_REPORTER_FILTER = "fluxa_site.error_reporting.FluxaExceptionReporterFilter"
# Webhooks: a live-mode endpoint on a private, loopback or link-local address is refused
# (SSRF) unless this is on (development, tests); every POST times out after this long.
FLUXA_WEBHOOK_ALLOW_PRIVATE = env.bool("FLUXA_WEBHOOK_ALLOW_PRIVATE", default=False)
FLUXA_WEBHOOK_TIMEOUT_SECONDS = env.float("FLUXA_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# The batch delivery path (docs/webhooks.md): threads per running batch, deliveries in flight to
# one endpoint per batch, the circuit breaker, and how long one batch task keeps claiming.
FLUXA_WEBHOOK_THREADS = env.int("FLUXA_WEBHOOK_THREADS", default=32)
FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY = env.int("FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY", default=8)
FLUXA_WEBHOOK_BREAKER_FAILURES = env.int("FLUXA_WEBHOOK_BREAKER_FAILURES", default=5)
FLUXA_WEBHOOK_BREAKER_SECONDS = env.float("FLUXA_WEBHOOK_BREAKER_SECONDS", default=60.0)
FLUXA_WEBHOOK_BATCH_SECONDS = env.float("FLUXA_WEBHOOK_BATCH_SECONDS", default=30.0)
# Chain scanning (wallets/scanning.py): RPC URLs per network and mode, e.g.
# {"ethereum": {"live": "https://...", "test": "http://127.0.0.1:8545"}}. A configured network
# fluxa cannot see payments on (never reached, a node of another chain, behind, not scanned
# lately) is reported by /healthz, and new charges on it are refused with network_unavailable.
FLUXA_CHAINS = env.json("FLUXA_CHAINS", default={})

# --- Settlements (docs/settlements.md) ---------------------------------------------------------
# The operator's fee address per network, for live mode: {"ethereum": "0x...", "litecoin": "ltc1..."}.
# A network without one records each fee as owed (the admin's owed-fee ledger).
FLUXA_PLATFORM_ADDRESSES = env.json("FLUXA_PLATFORM_ADDRESSES", default={})
# Blocks past an order's own confirmations before its settlement is planned, per network.
FLUXA_SETTLEMENT_REORG_MARGIN = env.json("FLUXA_SETTLEMENT_REORG_MARGIN", default={
    "bitcoin": 1, "litecoin": 2, "ethereum": 2, "base": 10, "arbitrum": 10, "polygon": 32, "bsc": 5,
    "tron": 1, "solana": 0, "xrpl": 0})
# Confirmations an outgoing transfer needs before it counts as confirmed, per network.
FLUXA_SETTLEMENT_CONFIRMATIONS = env.json("FLUXA_SETTLEMENT_CONFIRMATIONS", default={
    "bitcoin": 2, "litecoin": 6, "ethereum": 12, "base": 30, "arbitrum": 30, "polygon": 64, "bsc": 15,
    "tron": 19, "solana": 1, "xrpl": 1})
# Seconds a broadcast transaction may sit outside a block before it is replaced by the chain's
# rule (a number, or {"network": seconds, "default": seconds}).
FLUXA_SETTLEMENT_STUCK_SECONDS = env.json("FLUXA_SETTLEMENT_STUCK_SECONDS", default={"default": 600, "bitcoin": 3600,
                                                                                    "litecoin": 1800})
# Per network, in its native asset: the least and the most one outgoing transfer may cost;
# {"ethereum": {"min": "0", "max": "0.01"}}. Above the maximum a settlement waits (held).
FLUXA_SETTLEMENT_COST_LIMITS = env.json("FLUXA_SETTLEMENT_COST_LIMITS", default={})
# UTXO networks (bitcoin, litecoin): paid orders are settled together, several deposits in one
# transaction; a batch is built this many seconds after its first settlement was planned (0: each alone).
FLUXA_SETTLEMENT_BATCH_SECONDS = env.int("FLUXA_SETTLEMENT_BATCH_SECONDS", default=600)
# UTXO networks: the fee rate (sat/vB) to pay when the node has no estimate (estimatesmartfee
# answers none on a fresh node); the node's minimum relay fee rate when a network is not named.
FLUXA_SETTLEMENT_FEE_RATES = env.json("FLUXA_SETTLEMENT_FEE_RATES", default={})
# Below this balance (native asset) a network's fee payer is reported low on /healthz.
FLUXA_FEE_PAYER_LOW = env.json("FLUXA_FEE_PAYER_LOW", default={
    "ethereum": "0.05", "base": "0.005", "arbitrum": "0.005", "polygon": "5", "bsc": "0.05", "tron": "200",
    "solana": "0.1"})
# How old a live node's newest block may be, per network ({"bitcoin": 7200}); a network not
# named here gets twelve of its block intervals (chains/networks.py). Test mode judges a node
# by its own sync state and the scanner's last pass only (wallets.selectors.network_health).
FLUXA_CHAIN_MAX_LAG_SECONDS = env.json("FLUXA_CHAIN_MAX_LAG_SECONDS", default={})
# A network whose scanner has not finished a pass for this long takes no charges.
FLUXA_SCAN_STALE_SECONDS = env.int("FLUXA_SCAN_STALE_SECONDS", default=120)
FLUXA_SCAN_BATCH_BLOCKS = env.int("FLUXA_SCAN_BATCH_BLOCKS", default=500)
FLUXA_SCAN_START_BACK = env.int("FLUXA_SCAN_START_BACK", default=100)
# Absolute base of links fluxa hands out (qr_url, checkout); empty uses the request's host.
FLUXA_PUBLIC_URL = env.str("FLUXA_PUBLIC_URL", default="")
# Requests per minute per API key; "None" disables throttling.
FLUXA_API_RATE = env.str("FLUXA_API_RATE", default="1200/min")
# Refused signatures (unknown key, bad signature, stale timestamp, replay, revoked key) allowed
# per source address and per key id; past them, requests are answered 429 without being checked.
FLUXA_AUTH_FAILURE_RATE_PER_ADDRESS = env.str("FLUXA_AUTH_FAILURE_RATE_PER_ADDRESS", default="60/min")
FLUXA_AUTH_FAILURE_RATE_PER_KEY = env.str("FLUXA_AUTH_FAILURE_RATE_PER_KEY", default="120/min")
# Reverse proxies in front of fluxa that append to X-Forwarded-For (0: use REMOTE_ADDR).
FLUXA_TRUSTED_PROXIES = env.int("FLUXA_TRUSTED_PROXIES", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.api.authentication.HmacSignatureAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["merchants.api.authentication.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The one JSON parser: nesting depth, NUL and surrogates, numbers (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.SafeJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "fluxa API",
    "DESCRIPTION": (
        "Self-hosted crypto payment gateway. Every /api/v1 request is signed with HMAC-SHA256: "
        "see the X-Api-Key, X-Timestamp and X-Signature headers and README.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Enums as components (the default hook), the error answers every operation may give, then
    # a curl and a Python example in every signed operation's description (api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_errors",
        "api.schema.add_examples_hook",
    ],
    # Object ids in paths (fluxa_site/urls.py, ObjectId).
    "PATH_CONVERTER_OVERRIDES": {"oid": {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]{1,64}$"}},
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "PaymentStatusEnum": "orders.models.PaymentStatus",
        "RefundStatusEnum": "refunds.models.RefundStatus",
        "PaymentExceptionEnum": "orders.models.PaymentException",
        "EventTypeEnum": "webhooks.models.EventType",
        # the payment instruction's type (and the charge's `instruction`) keeps its component name
        "TypeEnum": ["crypto_address", "redirect"],
    },
}

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request bodies and headers are never logged: they may carry signatures.
        "django.request": {"level": "ERROR"},
    },
}

# --- Admin and cookies (docs/security.md) --------------------------------------------------------
# Admin logins: wrong passwords allowed per source address and per user name in a window.
AUTHENTICATION_BACKENDS = ["core.login_throttle.ThrottledModelBackend"]
FLUXA_LOGIN_FAILURE_RATE = env.str("FLUXA_LOGIN_FAILURE_RATE", default="10/h")

# --- Hosted checkout (docs/checkout.md) ----------------------------------------------------------
# Requests per client address to the public checkout pages and their status endpoint (a page
# polls every FLUXA_CHECKOUT_POLL_SECONDS), and visits of payment links (each makes an order).
FLUXA_CHECKOUT_RATE = env.str("FLUXA_CHECKOUT_RATE", default="240/min")
FLUXA_PAYMENT_LINK_RATE = env.str("FLUXA_PAYMENT_LINK_RATE", default="30/min")
FLUXA_CHECKOUT_POLL_SECONDS = env.int("FLUXA_CHECKOUT_POLL_SECONDS", default=4)
# Session and CSRF cookies are Secure (sent over https only) unless DEBUG (make run, plain
# http on 127.0.0.1) or SECURE_COOKIES=false; behind a TLS-terminating proxy also set
# SECURE_PROXY_SSL_HEADER, e.g. "HTTP_X_FORWARDED_PROTO,https".
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "api.errors.csrf_failure"
SESSION_COOKIE_SAMESITE = "Lax"

# --- Merchant portal (docs/portal.md) ------------------------------------------------------------
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"
# A portal session ends this long after sign-in, and after this long without a request.
FLUXA_PORTAL_SESSION_SECONDS = env.int("FLUXA_PORTAL_SESSION_SECONDS", default=8 * 3600)
FLUXA_PORTAL_IDLE_SECONDS = env.int("FLUXA_PORTAL_IDLE_SECONDS", default=3600)
SESSION_COOKIE_AGE = FLUXA_PORTAL_SESSION_SECONDS
# Password reset mails: printed on the console unless an SMTP server is configured (EMAIL_URL,
# e.g. smtp+tls://user:pass@mail.example.com:587).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="fluxa <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 86400)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="fluxa")
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER"))
