"""Settings, read from the environment (see README "Configuration").

One module for every environment: production secrets have no default unless DEBUG is on, and
everything else has a default that works on a fresh machine (SQLite in ./db.sqlite3).
"""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} is one of {', '.join(choices)}, not {value!r}.")
    return value


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a throwaway development key).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "askhandle.api.fast_lists",
    "askhandle.api.rate_limits",
    "accounts",
    "rooms",
    "messaging",
    "leads",
    "webhooks",
    "keywords",
    "idempotency",
    "django_tasks",
    "django_tasks_db",
    "knowledge",
    "bot",
]

# Security, CORS and the API's headers first, so that every answer carries them, including the
# 429 and 413 answers of the rate and body limits.
MIDDLEWARE = [
    # Outermost, so it compresses the final body (API answers only: askhandle/api/compression.py).
    "askhandle.api.compression.ApiGZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "askhandle.api.middleware.ApiSecurityHeadersMiddleware",
    "askhandle.api.throttling.ClientAddressRateLimitMiddleware",
    "askhandle.api.middleware.RequestBodyLimitMiddleware",
    "askhandle.api.body.CompleteBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "askhandle.urls"
WSGI_APPLICATION = "askhandle.wsgi.application"
# Every API route answers with and without its trailing slash itself; never redirect (a client
# cannot follow a redirect for a POST).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite file by default (zero set-up); PostgreSQL when DATABASE_URL names it, with a persistent
# connection per worker, or psycopg 3's connection pool when DATABASE_POOL is on (the two are
# mutually exclusive in Django).
SQLITE_PATH = Path(os.environ.get("SQLITE_PATH", BASE_DIR / "db.sqlite3"))
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection is checked before each request uses it (with the pool: on checkout), so one
    # that PostgreSQL closed (restart, failover, idle timeout) is replaced instead of failing;
    # our backend checks without a round trip (askhandle/db/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "askhandle.db.postgresql"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable host fails a request in seconds (503) instead of holding its worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )
    # Server-side parameters and psycopg's prepared statements (a query run 5 times on a
    # connection is prepared): 10-15% off a list request (docs/performance.md). Set
    # DATABASE_PREPARED_STATEMENTS=0 behind a pooler without prepared-statement support
    # (PgBouncer before 1.21 in transaction mode).
    if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"] |= {"server_side_binding": True, "prepare_threshold": 5}
    # Off by default: gunicorn's sync workers serve one request at a time, so a pool gains them
    # nothing, and after a database outage it reconnects on an exponential backoff (measured:
    # 8-10 s late after a 20 s outage) where a plain connection reconnects on the next request.
    # See docs/reliability.md.
    if env_bool("DATABASE_POOL", default=False):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let concurrent workers write without "database is locked"; IMMEDIATE
    # transactions take the write lock up front instead of failing on upgrade. synchronous=FULL:
    # a commit that was acknowledged survives a power cut (NORMAL may lose the last ones in WAL).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Failed admin logins (accounts/login_limits.py, django-axes): after ADMIN_LOGIN_FAILURE_LIMIT
# failures from one address or for one username, logins there are refused for
# ADMIN_LOGIN_LOCKOUT_MINUTES, even with the right password. The API is not affected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ADMIN_LOGIN_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
ADMIN_LOGIN_LOCKOUT_MINUTES = env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 15)
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=ADMIN_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # each on its own
AXES_RESET_ON_SUCCESS = True
# Attempts during a lock-out do not prolong it: it ends ADMIN_LOGIN_LOCKOUT_MINUTES after it began.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
AXES_ONLY_ADMIN_SITE = True
AXES_WHITELIST_CALLABLE = "accounts.login_limits.outside_the_admin"
AXES_CLIENT_IP_CALLABLE = "accounts.login_limits.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.login_limits.lockout_response"
# Successful logins are not logged by Axes (the admin keeps its own history).
AXES_DISABLE_ACCESS_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Redis when REDIS_URL is set (rate-limit counters: askhandle/api/rate_limits), the database
# otherwise (its table is made by `manage.py createcachetable`).
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "askhandle_cache",
        }
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Behind trusted proxies (NUM_PROXIES below), take the scheme and host they report, so the links
# in paginated answers point where the client called.
if env_int("NUM_PROXIES", 0):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# Request bodies above this answer 413 (JSON, before anything is parsed or written).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS=1 when clients reach the server over HTTPS (TLS in gunicorn, or a proxy with NUM_PROXIES):
# plain-HTTP requests are redirected (except the health check), cookies are HTTPS-only, and HSTS
# tells browsers to keep to HTTPS. `manage.py check --deploy` passes with it.
HTTPS = env_bool("HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)

# Chat frontends on other sites call the API from the browser: these origins
# ("https://shop.example.com", comma-separated) may, and no other. Keys travel in the
# Authorization header, never in cookies, so no credentials mode.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Retry-After", "Idempotent-Replayed"]
CORS_PREFLIGHT_MAX_AGE = 24 * 60 * 60

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["askhandle.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "askhandle.api.parsers.JSONParser",
        "askhandle.api.parsers.FormParser",
        "askhandle.api.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "askhandle.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "askhandle.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "askhandle.api.exceptions.exception_handler",
    # Per API key; per client address is ClientAddressRateLimitMiddleware (above).
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_token": os.environ.get("API_TOKEN_THROTTLE_RATE", "10/min"),
    },
    # Always UTC with microseconds and "Z", as the hosted API renders them.
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "UNAUTHENTICATED_USER": None,
    # The number of proxies in front of the server, so throttling sees the real client address.
    # 0 (the default) trusts no X-Forwarded-For header: it would let any client pick its address.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

# Rate limits ("N/s", "N/min", "N/hour", "N/day", or "off"); see docs/api.md "Rate limits".
# Generous defaults: one chat widget's key serves every visitor of a site.
API_KEY_THROTTLE_RATE = os.environ.get("API_KEY_THROTTLE_RATE", "6000/min")
CLIENT_ADDRESS_THROTTLE_RATE = os.environ.get("CLIENT_ADDRESS_THROTTLE_RATE", "1200/min")

API_MAX_PAGE_SIZE = 1000
# List pages answered again from memory while the account's data is unchanged (per worker
# process, in bytes; 0 turns it off; PostgreSQL only). docs/fast-lists.md.
# At most this many of a room's messages (its newest, oldest first) are nested in a room's
# representation; the whole history pages through GET /messages/?room=<uuid> (docs/api.md).
ROOM_MESSAGES_MAX = env_int("ROOM_MESSAGES_MAX", 100)
API_PAGE_CACHE_BYTES = env_int("API_PAGE_CACHE_BYTES", 32 * 1024 * 1024)
# Each room's rendered messages, kept while they have not changed, for the rooms list (per
# worker process, in bytes; 0 turns it off; PostgreSQL only). docs/fast-lists.md.
API_ROOM_MESSAGES_CACHE_BYTES = env_int("API_ROOM_MESSAGES_CACHE_BYTES", 32 * 1024 * 1024)
# How long a create's answer is replayed for a retry with the same Idempotency-Key.
IDEMPOTENCY_KEY_TTL_SECONDS = env_int("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 60 * 60)

# Quotas per account (askhandle/api/quotas.py, docs/api.md#quotas): a create beyond one answers 400.
# Every visitor message is matched against the account's keywords, and each match is a
# notification with its webhook event and deliveries: both are bounded.
KEYWORDS_PER_ACCOUNT = env_int("KEYWORDS_PER_ACCOUNT", 1000)
KEYWORD_NOTIFICATIONS_PER_MESSAGE = env_int("KEYWORD_NOTIFICATIONS_PER_MESSAGE", 20)
# The bot keeps each account's entry vectors in memory (about 1.5 MB per 1,000 entries).
KNOWLEDGE_ENTRIES_PER_ACCOUNT = env_int("KNOWLEDGE_ENTRIES_PER_ACCOUNT", 2000)
# Webhook subscriptions, so also the most deliveries one event can cause (docs/webhooks.md).
WEBHOOKS_PER_ACCOUNT = env_int("WEBHOOKS_PER_ACCOUNT", 20)
# An API key's last-used time is written at most this often, so reads stay reads.
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60

SPECTACULAR_SETTINGS = {
    "TITLE": "AskHandle API (self-hosted)",
    "DESCRIPTION": (
        "A drop-in implementation of the AskHandle REST API. Authenticate with "
        "`Authorization: Token <key>` (or `Bearer <key>`); get a key from "
        "`POST /api/v1/auth/api-token`. Every path also answers without its trailing slash."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's scripts are served by this server (no CDN: works on closed networks).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "askhandle.api.schema.unslash_api_token",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# Webhooks (docs/webhooks.md). Targets on loopback/private/link-local addresses are refused
# unless this is set (local development and tests).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS")
WEBHOOK_CONNECT_TIMEOUT = env_float("WEBHOOK_CONNECT_TIMEOUT", 5)
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10)  # whole attempt, connect to last byte
WEBHOOK_RETRY_BASE_DELAY = env_float("WEBHOOK_RETRY_BASE_DELAY", 30)
WEBHOOK_RETRY_MAX_DELAY = env_float("WEBHOOK_RETRY_MAX_DELAY", 3 * 3600)
WEBHOOK_RETRY_WINDOW = env_float("WEBHOOK_RETRY_WINDOW", 24 * 3600)
# How long a worker holds a claimed delivery; must outlast an attempt.
WEBHOOK_LEASE_SECONDS = max(env_float("WEBHOOK_LEASE_SECONDS", 60), WEBHOOK_TIMEOUT + 5)
WEBHOOK_SECRET_GRACE = env_float("WEBHOOK_SECRET_GRACE", 24 * 3600)
# Finished deliveries (with their attempt log) are deleted after this many days.
WEBHOOK_LOG_RETENTION_DAYS = env_int("WEBHOOK_LOG_RETENTION_DAYS", 30)
# Every event is logged (the live streams read the log, docs/streams.md); one that no delivery
# needs is kept this long, how far back a stream can resume with Last-Event-ID.
EVENT_LOG_RETENTION_HOURS = env_int("EVENT_LOG_RETENTION_HOURS", 24)

# Live updates (webhooks/streams.py, docs/streams.md): Server-Sent Events and long-polls.
# Live connections (streams and long-polls) one account may hold in one worker process.
STREAMS_PER_ACCOUNT = env_int("STREAMS_PER_ACCOUNT", 500)
# A stream ends after this long; clients reconnect with Last-Event-ID (EventSource does).
STREAM_MAX_SECONDS = env_float("STREAM_MAX_SECONDS", 600)
STREAM_HEARTBEAT_SECONDS = env_float("STREAM_HEARTBEAT_SECONDS", 15)
# The reconnection delay a stream suggests to its client (the SSE `retry` field).
STREAM_RETRY_MS = env_int("STREAM_RETRY_MS", 2000)
# On SQLite (no LISTEN/NOTIFY) writers send each worker a datagram after a commit; a worker with
# subscribers also reads the log's head every STREAM_SAFETY_SECONDS, or every STREAM_POLL_SECONDS
# where it cannot make its socket (webhooks/streams.py).
STREAM_SAFETY_SECONDS = env_float("STREAM_SAFETY_SECONDS", 1.0)
STREAM_POLL_SECONDS = env_float("STREAM_POLL_SECONDS", 0.05)
# How long a worker keeps listening (PostgreSQL's connection) after its last subscriber left.
STREAM_HUB_LINGER_SECONDS = env_float("STREAM_HUB_LINGER_SECONDS", 30)
STREAM_BATCH = env_int("STREAM_BATCH", 100)
# The longest `wait=` of a long-poll, in seconds.
LONG_POLL_MAX_SECONDS = env_int("LONG_POLL_MAX_SECONDS", 30)
# Fair delivery: attempts in flight at once (across all workers) for one account, and for one
# target (URL) of an account; a target whose attempts fail this many times in a row is backed
# off as a whole (none of its deliveries is attempted until the backoff ends).
WEBHOOK_ACCOUNT_CONCURRENCY = max(1, env_int("WEBHOOK_ACCOUNT_CONCURRENCY", 2))
WEBHOOK_TARGET_CONCURRENCY = max(1, env_int("WEBHOOK_TARGET_CONCURRENCY", 1))
WEBHOOK_TARGET_FAILURES = max(1, env_int("WEBHOOK_TARGET_FAILURES", 3))

# Background work (the bot's answers that miss the inline budget) goes through Django's Tasks API,
# stored in the database and run by `manage.py db_worker` (started by `./dev serve`).
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# The bot (docs/bot.md). The built-in answerer needs nothing; BOT_LLM_URL turns the LLM one on.
BOT_ANSWER_BUDGET_SECONDS = env_float("BOT_ANSWER_BUDGET_SECONDS", 3)
# Background answers: tries before a message is given up on (bot.services.answer_retry_delay).
BOT_ANSWER_ATTEMPTS = env_int("BOT_ANSWER_ATTEMPTS", 5)
BOT_CONFIDENCE_THRESHOLD = env_float("BOT_CONFIDENCE_THRESHOLD", 0.80)
BOT_CONTEXT_MESSAGES = env_int("BOT_CONTEXT_MESSAGES", 6)
# The sentence encoder: "onnx" (the int8 model on ONNX Runtime, when installed) or "numpy"
# (float32, the reference); knowledge/embedding.py.
BOT_ENCODER = env_choice("BOT_ENCODER", "onnx", ("onnx", "numpy"))
# Threads of the sentence encoder per process (0: the library's default, one per core).
BOT_ENCODER_THREADS = env_int("BOT_ENCODER_THREADS", 1)
BOT_LLM_URL = os.environ.get("BOT_LLM_URL", "")
BOT_LLM_MODEL = os.environ.get("BOT_LLM_MODEL", "")
BOT_LLM_API_KEY = os.environ.get("BOT_LLM_API_KEY", "")
BOT_LLM_TIMEOUT_SECONDS = env_float("BOT_LLM_TIMEOUT_SECONDS", 20)
BOT_LLM_ENTRIES = env_int("BOT_LLM_ENTRIES", 5)
# Sentence embeddings beside full-text search (knowledge/embedding.py), when the model is installed.
BOT_EMBEDDINGS = env_bool("BOT_EMBEDDINGS", True)
BOT_EMBEDDING_MODEL_DIR = os.environ.get("BOT_EMBEDDING_MODEL_DIR", "")
# After a person replies in a room, the bot stays quiet there until the room is handed back
# (docs/people.md).
BOT_QUIET_AFTER_PERSON = env_bool("BOT_QUIET_AFTER_PERSON", True)

# Email alerts to the account (docs/people.md): hand-offs and keyword notifications, sent by the
# task worker. Printed on the console unless EMAIL_HOST names an SMTP server.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "askhandle@localhost")
# Off: no alert emails at all (webhooks are unaffected).
ALERT_EMAILS = env_bool("ALERT_EMAILS", True)
# Per account and clock hour; beyond it alerts are dropped (and logged), so that no account can
# fill the task queue with its emails.
ALERT_EMAILS_PER_HOUR = env_int("ALERT_EMAILS_PER_HOUR", 60)
# Tries of an alert email (a mail server that is down is tried again 1, 4, 16, ... minutes later).
ALERT_EMAIL_ATTEMPTS = env_int("ALERT_EMAIL_ATTEMPTS", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # 4xx answers are the API working as designed; don't log each one as a warning.
        "django.request": {"level": "ERROR"},
    },
}
