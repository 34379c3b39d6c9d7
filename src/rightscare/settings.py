"""Django settings for RightsCare.

Configuration comes only from environment variables (12-factor); every secret may
also be read from a file named by the same variable with ``_FILE`` appended.
The defaults run the embedded demo: a SQLite file under ``RIGHTSCARE_DATA_DIR``
and tasks in the database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    """Read ``name`` from the environment, or from the file named by ``name_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean flag: 1/true/yes/on are true, 0/false/no/off false."""
    value = env(name, "")
    if value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(env("RIGHTSCARE_DATA_DIR", str(Path.cwd() / "var"))).resolve()
DEMO = env_bool("RIGHTSCARE_DEMO", False)
DEBUG = env_bool("RIGHTSCARE_DEBUG", False)
TESTING = env_bool("RIGHTSCARE_TESTING", "pytest" in sys.modules)

# An empty key is refused by `rightscare check`; the demo and the tests get a
# generated one so that nothing secret is ever a constant in the code.
SECRET_KEY = env("RIGHTSCARE_SECRET_KEY")
SECRET_KEY_CONFIGURED = bool(SECRET_KEY)
if not SECRET_KEY:
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = get_random_secret_key()

# Field-encryption and blind-index keys (see rightscare.core.crypto and docs/operations.md).
# Tests get fresh random keys per process; everywhere else they must be configured.
FIELD_KEY_SPEC = ""
INDEX_KEY_SPEC = ""
if TESTING:
    import base64 as _base64
    import secrets as _secrets

    FIELD_KEY_SPEC = "test1:" + _base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode().rstrip("=")
    INDEX_KEY_SPEC = "test1:" + _base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode().rstrip("=")

ALLOWED_HOSTS = [h.strip() for h in env("RIGHTSCARE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("RIGHTSCARE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "ninja",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "rightscare.core",
    "rightscare.audit",
    "rightscare.org",
    "rightscare.notifications",
    "rightscare.registry",
    "rightscare.cases",
    "rightscare.intake",
    "rightscare.supervision",
    "rightscare.assessment",
    "rightscare.integrations",
    "rightscare.ratings",
    "rightscare.petitioners",
    "rightscare.wechat",
    "rightscare.open311",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "rightscare.core.middleware.ApiProblemMiddleware",
    "rightscare.open311.middleware.Open311ErrorMiddleware",
    "rightscare.core.middleware.RejectNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "rightscare.core.middleware.IdleSessionTimeoutMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "rightscare.org.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rightscare.urls"
WSGI_APPLICATION = "rightscare.wsgi.application"
AUTH_USER_MODEL = "org.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "rightscare.core.context_processors.product",
            ],
        },
    }
]

# --- database -----------------------------------------------------------------
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'rightscare.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(env("RIGHTSCARE_DB_CONN_MAX_AGE", "0")))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of
        # one failing with "database is locked" half-way through a transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file, not :memory:, so that tests can inspect what reaches the disk.
    # One per test process, so that concurrent runs never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test_rightscare_{os.getpid()}.sqlite3")}
else:
    # PostgreSQL's JIT compiled the assessment's large aggregates for longer than they ran
    # (355 ms of an 870 ms query at a million cases, bench/results/2026-12-06-assessment-1m.md):
    # off for the product's connections unless RIGHTSCARE_PG_JIT=on.
    if env("RIGHTSCARE_PG_JIT", "off") != "on":
        connection_options = DATABASES["default"].setdefault("OPTIONS", {})
        connection_options["options"] = f"{connection_options.get('options', '')} -c jit=off".strip()
    # One test database per test process, so that concurrent runs never collide.
    test_settings: dict[str, str] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
    template = env("RIGHTSCARE_DB_TEST_TEMPLATE")
    if template:
        # A template created WITH LC_CTYPE 'C.UTF-8' so pg_trgm indexes Chinese.
        test_settings["TEMPLATE"] = template
    DATABASES["default"]["TEST"] = test_settings
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- benchmarks only (bench/README.md, "1. Intake throughput") -----------------------------
# The floor endpoints of the intake benchmark under /api/bench-floors/ and their one table.
# Only the benchmark's own server sets it: never in production.
BENCH_FLOORS = env_bool("RIGHTSCARE_BENCH_FLOORS", False)
if BENCH_FLOORS:
    INSTALLED_APPS += ["rightscare.benchfloors"]

# --- tasks --------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
TASKS_BACKEND = env("RIGHTSCARE_TASKS_BACKEND", "rq" if REDIS_URL else "db")
if TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0"}}
elif TASKS_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# --- cache ------------------------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- passwords and sessions ---------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SESSION_IDLE_SECONDS = int(env("RIGHTSCARE_SESSION_IDLE_SECONDS", "1800"))
SESSION_COOKIE_AGE = int(env("RIGHTSCARE_SESSION_MAX_SECONDS", str(12 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

AXES_FAILURE_LIMIT = int(env("RIGHTSCARE_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = float(env("RIGHTSCARE_LOCKOUT_HOURS", "0.5"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "rightscare.org.views.lockout_response"
AXES_VERBOSE = False

REQUIRE_2FA = env_bool("RIGHTSCARE_REQUIRE_2FA", not DEMO)
OTP_TOTP_ISSUER = "RightsCare"

# --- HTTPS --------------------------------------------------------------------
HTTPS = env_bool("RIGHTSCARE_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("RIGHTSCARE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("RIGHTSCARE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No inline script or style anywhere: htmx is configured through a meta tag
# (allowEval false, includeIndicatorStyles false) and all JS lives in files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- languages and time -------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env("RIGHTSCARE_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True
LANGUAGE_COOKIE_NAME = "rightscare_language"

# --- static files -------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(DATA_DIR / "media")}},
    "staticfiles": {
        "BACKEND": ("django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG or TESTING else "whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- API ----------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 200
API_TOKEN_DEFAULT_DAYS = int(env("RIGHTSCARE_API_TOKEN_DAYS", "90"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("RIGHTSCARE_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- worker, scheduler and outbox (docs/operations.md) -------------------------------
# Intervals of the periodic jobs, "name=seconds,…" (0 switches a job off); see core/scheduler.py.
JOB_INTERVALS = env("RIGHTSCARE_JOB_INTERVALS", "")
SCHEDULER_TICK_SECONDS = float(env("RIGHTSCARE_SCHEDULER_TICK_SECONDS", "1"))
WORKER_POLL_SECONDS = float(env("RIGHTSCARE_WORKER_POLL_SECONDS", "1"))
WORKER_HEARTBEAT_SECONDS = float(env("RIGHTSCARE_WORKER_HEARTBEAT_SECONDS", "5"))
WORKER_STALE_SECONDS = float(env("RIGHTSCARE_WORKER_STALE_SECONDS", "60"))
JOB_LEASE_SECONDS = float(env("RIGHTSCARE_JOB_LEASE_SECONDS", "30"))
TASK_TIMEOUT_SECONDS = float(env("RIGHTSCARE_TASK_TIMEOUT_SECONDS", "3600"))
# Outbox delivery: a claimed message is leased for OUTBOX_LEASE_SECONDS (keep it well above
# the slowest gateway, EMAIL_TIMEOUT included); failures retry after base·2^(attempt-1)
# seconds, at most the cap, until OUTBOX_MAX_ATTEMPTS attempts have failed.
OUTBOX_LEASE_SECONDS = float(env("RIGHTSCARE_OUTBOX_LEASE_SECONDS", "120"))
OUTBOX_BATCH_SIZE = int(env("RIGHTSCARE_OUTBOX_BATCH_SIZE", "20"))
OUTBOX_MAX_ATTEMPTS = int(env("RIGHTSCARE_OUTBOX_MAX_ATTEMPTS", "8"))
OUTBOX_RETRY_BASE_SECONDS = float(env("RIGHTSCARE_OUTBOX_RETRY_BASE_SECONDS", "30"))
OUTBOX_RETRY_CAP_SECONDS = float(env("RIGHTSCARE_OUTBOX_RETRY_CAP_SECONDS", "3600"))
# The channel for messages to addresses when the caller has no preference: the log in the demo.
NOTIFICATIONS_DEFAULT_CHANNEL = env("RIGHTSCARE_NOTIFICATIONS_CHANNEL", "console" if DEMO else "email")
# Test doubles only: when set, the "test_file" and "test_failing" channels append the
# unique key of each message they are given to this file (crash tests read it).
NOTIFICATIONS_TEST_SENDER_FILE = env("RIGHTSCARE_TEST_SENDER_FILE")

# E-mail (the "email" channel): SMTP through Django's e-mail backend.
EMAIL_BACKEND = env("RIGHTSCARE_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("RIGHTSCARE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("RIGHTSCARE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("RIGHTSCARE_EMAIL_USER")
EMAIL_HOST_PASSWORD = env("RIGHTSCARE_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("RIGHTSCARE_EMAIL_STARTTLS", False)
EMAIL_USE_SSL = env_bool("RIGHTSCARE_EMAIL_SSL", False)
EMAIL_TIMEOUT = float(env("RIGHTSCARE_EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = env("RIGHTSCARE_EMAIL_FROM", "rightscare@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- petitioners' notifications: SMS gateway and WeChat template messages ----------------
# (docs/operations/petitioner-notifications.md). A channel is on when it is configured;
# with neither, petitioners are not notified at all (``rightscare check`` says so).
# How messages to the public name the organisation (empty: "RightsCare", translated).
NOTIFICATIONS_SENDER_NAME = env("RIGHTSCARE_NOTIFICATIONS_SENDER_NAME")
# Further words that name the organisation ("妇联,Women's Federation"): a message under a
# neutral sender name is never sent with one of them in it.
NOTIFICATIONS_ORGANISATION_WORDS = [word.strip() for word in env("RIGHTSCARE_NOTIFICATIONS_ORGANISATION_WORDS").split(",") if word.strip()]
# The channels tried for a petitioner, in order of preference (the first she can be reached on).
PETITIONER_CHANNELS = [name.strip() for name in env("RIGHTSCARE_PETITIONER_CHANNELS", "wechat,sms").split(",") if name.strip()]
# The SMS gateway: a JSON POST per message (see the guide for its format); empty URL = no SMS.
SMS_GATEWAY_URL = env("RIGHTSCARE_SMS_GATEWAY_URL")
SMS_GATEWAY_TOKEN = env("RIGHTSCARE_SMS_GATEWAY_TOKEN")
SMS_GATEWAY_USER = env("RIGHTSCARE_SMS_GATEWAY_USER")
SMS_GATEWAY_PASSWORD = env("RIGHTSCARE_SMS_GATEWAY_PASSWORD")
SMS_GATEWAY_TIMEOUT = float(env("RIGHTSCARE_SMS_GATEWAY_TIMEOUT", "10"))
# The registered SMS signature (签名) used unless the recipient asked for a neutral sender name.
SMS_SENDER_NAME = env("RIGHTSCARE_SMS_SENDER_NAME")
# The WeChat official account (template messages); empty app id = no WeChat messages.
WECHAT_APP_ID = env("RIGHTSCARE_WECHAT_APP_ID")
WECHAT_APP_SECRET = env("RIGHTSCARE_WECHAT_APP_SECRET")
WECHAT_API_BASE_URL = env("RIGHTSCARE_WECHAT_API_BASE_URL", "https://api.weixin.qq.com/cgi-bin/")
WECHAT_TIMEOUT = float(env("RIGHTSCARE_WECHAT_TIMEOUT", "10"))
# Template ids per event, "event=template id,…" (e.g. "petitioner.registered=Xy…"), and the
# template's two fields that receive the message's subject and text.
WECHAT_TEMPLATE_IDS = {pair.partition("=")[0].strip(): pair.partition("=")[2].strip() for pair in env("RIGHTSCARE_WECHAT_TEMPLATES").split(",") if "=" in pair}
WECHAT_TEMPLATE_FIELDS = [name.strip() for name in env("RIGHTSCARE_WECHAT_TEMPLATE_FIELDS", "keyword1,keyword2").split(",") if name.strip()]

# --- the WeChat official account's callback /channels/wechat/ (docs/operations/wechat.md) ---
# The Token entered in the account's server settings (服务器配置); empty: every call is refused (403).
WECHAT_TOKEN = env("RIGHTSCARE_WECHAT_TOKEN")
# The EncodingAESKey (43 characters): set, the callback takes only encrypted messages (safe mode,
# 安全模式, or compatible mode) and encrypts its replies; empty: plain mode (明文模式). The AppID
# above (RIGHTSCARE_WECHAT_APP_ID) is the one the messages are encrypted for.
WECHAT_ENCODING_AES_KEY = env("RIGHTSCARE_WECHAT_ENCODING_AES_KEY")
# Calls whose timestamp is further than this from the server's clock are refused (0: not checked).
WECHAT_MAX_CLOCK_SKEW_SECONDS = float(env("RIGHTSCARE_WECHAT_MAX_CLOCK_SKEW_SECONDS", "300"))
# Where text messages go: the official code of the region whose intake unit receives them
# (empty: the widest region that takes submissions) and the category code they are filed under.
WECHAT_INTAKE_REGION = env("RIGHTSCARE_WECHAT_INTAKE_REGION")
WECHAT_INTAKE_CATEGORY = env("RIGHTSCARE_WECHAT_INTAKE_CATEGORY", "other")
# The public address of the site, for the links in replies (empty: the address WeChat called).
WECHAT_PUBLIC_SITE_URL = env("RIGHTSCARE_WECHAT_PUBLIC_SITE_URL")
# A name the replies sign with (empty: none; a follower's phone may be read by someone else).
WECHAT_REPLY_SIGNATURE = env("RIGHTSCARE_WECHAT_REPLY_SIGNATURE")
# How long the callback's message log is kept (days); older rows are deleted by the worker.
WECHAT_MESSAGE_RETENTION_DAYS = int(env("RIGHTSCARE_WECHAT_MESSAGE_RETENTION_DAYS", "30"))

# --- channel adapters: hotline (CTI), 12345 report-back, webhooks (docs/operations/integrations.md) ---
# The secret the telephony system signs its call events with (HMAC-SHA256); unset: every event is refused.
CTI_SECRET = env("RIGHTSCARE_CTI_SECRET")
# Events whose timestamp is further than this from the server's clock are refused (replay window).
CTI_TOLERANCE_SECONDS = float(env("RIGHTSCARE_CTI_TOLERANCE_SECONDS", "300"))
# How long an ended call stays in the operator's pop-up, waiting for the contact she saves.
CTI_POPUP_LINGER_SECONDS = float(env("RIGHTSCARE_CTI_POPUP_LINGER_SECONDS", "1800"))
# Where results of cases transferred from the 12345 platform are reported, and the signing secret.
PLATFORM_12345_URL = env("RIGHTSCARE_12345_URL")
PLATFORM_12345_SECRET = env("RIGHTSCARE_12345_SECRET")
# Deliveries (webhooks, 12345): HTTP time-out, lease (well above the time-out), batch, retries.
INTEGRATIONS_TIMEOUT_SECONDS = float(env("RIGHTSCARE_INTEGRATIONS_TIMEOUT_SECONDS", "10"))
INTEGRATIONS_LEASE_SECONDS = float(env("RIGHTSCARE_INTEGRATIONS_LEASE_SECONDS", "120"))
INTEGRATIONS_BATCH_SIZE = int(env("RIGHTSCARE_INTEGRATIONS_BATCH_SIZE", "20"))
INTEGRATIONS_MAX_ATTEMPTS = int(env("RIGHTSCARE_INTEGRATIONS_MAX_ATTEMPTS", "10"))
INTEGRATIONS_RETRY_BASE_SECONDS = float(env("RIGHTSCARE_INTEGRATIONS_RETRY_BASE_SECONDS", "30"))
INTEGRATIONS_RETRY_CAP_SECONDS = float(env("RIGHTSCARE_INTEGRATIONS_RETRY_CAP_SECONDS", "3600"))

# --- audit log ----------------------------------------------------------------
# The key that signs the audit chain's anchors (see rightscare.audit.keys and
# docs/operations.md): the database never holds it. Tests get a fresh random one.
AUDIT_KEY_SPEC = ""
if TESTING:
    import base64 as _base64
    import secrets as _secrets

    AUDIT_KEY_SPEC = _base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode()
# Where each seal appends the signed chain head: a file (append-only, ideally on a
# machine or medium the database administrator cannot rewrite) or "log:" for the
# rightscare.audit.anchor logger (syslog/journald shipping).
AUDIT_ANCHOR = env("RIGHTSCARE_AUDIT_ANCHOR", str(DATA_DIR / "audit-anchors.log"))
# How often the worker's scheduler seals the entries written since the last seal.
AUDIT_SEAL_INTERVAL_SECONDS = int(env("RIGHTSCARE_AUDIT_SEAL_SECONDS", "60"))
# Anchors sent to the log must never be filtered out by RIGHTSCARE_LOG_LEVEL.
LOGGING["loggers"]["rightscare.audit.anchor"] = {"level": "INFO"}  # type: ignore[index]

# --- ratings and return visits (回访) of resolved cases (docs/user-guide/return-visits.md) ------
# Days the petitioner has to rate a resolved case before the return-visit team calls her.
RATING_WAIT_DAYS = int(env("RIGHTSCARE_RATING_WAIT_DAYS", "7"))
# Calls that did not reach her before the rating round is closed as unreachable.
RETURN_VISIT_MAX_ATTEMPTS = int(env("RIGHTSCARE_RETURN_VISIT_MAX_ATTEMPTS", "3"))
# How often the worker's scheduler looks for rounds left unrated (job ratings.sweep).
RATINGS_SWEEP_SECONDS = float(env("RIGHTSCARE_RATINGS_SWEEP_SECONDS", "300"))

# --- deadlines: the sweep and the chain 催办 → 督办 → 挂牌督办 (docs/operations.md) -----------
# How often the worker's scheduler sweeps the clocks and chases that are due (job supervision.sweep).
SUPERVISION_SWEEP_SECONDS = float(env("RIGHTSCARE_SUPERVISION_SWEEP_SECONDS", "60"))
# How many clocks (or chases) one transaction of the sweep claims.
SUPERVISION_SWEEP_BATCH = int(env("RIGHTSCARE_SUPERVISION_SWEEP_BATCH", "100"))
# A work order still overdue this many working days after its oldest missed deadline goes to its
# parent unit for supervision (督办); after the second number, the city lists it (挂牌督办).
# Clocks that run 24/7 (emergencies) count days of 24 hours.
SUPERVISION_AFTER_WORKING_DAYS = int(env("RIGHTSCARE_SUPERVISION_AFTER_DAYS", "2"))
SUPERVISION_LISTED_AFTER_WORKING_DAYS = int(env("RIGHTSCARE_SUPERVISION_LISTED_AFTER_DAYS", "5"))
# Safety follow-up of domestic-violence and child-protection cases: days between reviews
# (the default; each review sets the next), and how many days a review may be overdue
# before the responsible unit's parent unit is told. Calendar days: danger keeps no holidays.
SAFETY_REVIEW_DAYS = int(env("RIGHTSCARE_SAFETY_REVIEW_DAYS", "14"))
SAFETY_ESCALATE_AFTER_DAYS = int(env("RIGHTSCARE_SAFETY_ESCALATE_AFTER_DAYS", "3"))

# --- the petitioner's public pages: submission and tracking (docs/user-guide/public-submission.md) ---
# Where the quick-exit button goes (with location.replace, so Back does not return): a neutral page.
PUBLIC_QUICK_EXIT_URL = env("RIGHTSCARE_QUICK_EXIT_URL", "https://www.baidu.com/s?wd=%E5%A4%A9%E6%B0%94")
# Channels whose submissions become cases at once (comma-separated: web_form, mini_program, app, …),
# registered in the name of the service account RIGHTSCARE_PUBLIC_INTAKE_USER (an intake operator).
PUBLIC_TRUSTED_CHANNELS = [c.strip() for c in env("RIGHTSCARE_TRUSTED_CHANNELS", "").split(",") if c.strip()]
PUBLIC_INTAKE_USER = env("RIGHTSCARE_PUBLIC_INTAKE_USER", "")
# A new submission is checked within this many working days (the date shown to the petitioner).
PUBLIC_REVIEW_WORKING_DAYS = int(env("RIGHTSCARE_PUBLIC_REVIEW_WORKING_DAYS", "2"))
# Rate limits of the public pages: name -> (hits, seconds); see rightscare.petitioners.ratelimit.
PUBLIC_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "submit_ip": (int(env("RIGHTSCARE_SUBMIT_PER_IP_HOUR", "10")), 3600),
    "submit_phone": (int(env("RIGHTSCARE_SUBMIT_PER_PHONE_DAY", "3")), 86400),
    "track_ip": (int(env("RIGHTSCARE_TRACK_PER_IP_10MIN", "30")), 600),
    "track_wrong_ip": (int(env("RIGHTSCARE_TRACK_WRONG_PER_IP_HOUR", "10")), 3600),
    "track_wrong_code": (int(env("RIGHTSCARE_TRACK_WRONG_PER_CODE_HOUR", "5")), 3600),
    "wechat_query": (int(env("RIGHTSCARE_WECHAT_QUERIES_PER_HOUR", "10")), 3600),
    "wechat_query_wrong": (int(env("RIGHTSCARE_WECHAT_WRONG_QUERIES_PER_HOUR", "5")), 3600),
}
