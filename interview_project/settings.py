"""Django settings, all read from the environment.

With neither ``REDIS_URL`` nor ``DATABASE_URL`` set, the service runs on its *embedded defaults*: SQLite, an
in-process channel layer, an in-process Redis substitute for live state and a Celery worker thread on an
in-memory broker inside the server process. Production sets ``REDIS_URL`` (broker, channel layer, live
state) and ``DATABASE_URL=mysql://...`` and runs ``celery -A celery_app worker`` beside daphne.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from interview_project.env import env_bool, env_float, env_int, env_list, env_str
from interview_project.redis_retry import redis_retry

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
"""Off unless asked for: `make run` sets DEBUG=1 for the laptop demo; a deployment never needs it."""
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
else:
    SECRET_KEY = env_str("SECRET_KEY")  # no default outside DEBUG
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters outside DEBUG")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "sessions.apps.InterviewSessionsConfig",
    "sessions.access.apps.AccessConfig",
    "analysis.apps.AnalysisConfig",
    "scoring.apps.ScoringConfig",
]

MIDDLEWARE = [
    # First: probes and scrapes answer whatever the Host header (load balancers and kubelets use IPs).
    "interview_project.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # daphne serves no static files: WhiteNoise answers /static/ (admin, API docs, console) in every mode.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The interface language (docs/console.md): the set_language cookie, else Accept-Language, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "interview_project.urls"
ASGI_APPLICATION = "interview_project.asgi.application"

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
            ],
        },
    },
]

# --- HTTPS, cookies, proxies (docs/api.md "Production") -------------------------------------------------------
PROXY_HEADERS = env_bool("PROXY_HEADERS", False)
"""Trust X-Forwarded-For/-Proto from a front proxy (daphne --proxy-headers). Off: the client address is the
socket's, so nobody can spoof a throttle key or claim HTTPS with a header."""
if PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
"""Only ever sent on HTTPS responses, so a plain-HTTP trial run is not locked out."""
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
"""Session and CSRF cookies only over HTTPS. Set SECURE_COOKIES=0 to try a DEBUG=0 server over plain HTTP."""
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DEFAULT_EXCEPTION_REPORTER_FILTER = "interview_project.redact.RedactingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "interview_project.redact.RedactingExceptionReporter"
"""Error pages and mails mask passwords inside URLs (REDIS_URL, DATABASE_URL, broker) as well as names."""

# --- Logins (docs/api.md "Logins and roles") -----------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console-start"
LOGOUT_REDIRECT_URL = "login"

# --- Redis connections ----------------------------------------------------------------------------------
REDIS_RETRIES = env_int("REDIS_RETRIES", 10)
"""How often a Redis command that met a dead connection (restart, failover) reconnects and goes again
(interview_project/redis_retry.py; backoff 50 ms doubling, capped at 1 s: about 6 s in all)."""

# --- Storage -------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    # Persistent connections, checked before reuse: a live worker runs several database tasks per chunk, and a
    # new MariaDB connection for each was a visible share of its CPU (celery_app.py, "Database connections").
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
        DATABASES["default"].setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
        DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
else:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "var" / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
"""Filled by ``manage.py collectstatic`` (``make run``/``make test`` run it); WhiteNoise serves it."""
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies (gzip/brotli when available), no manifest: templates never fail on a missing entry.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
"""Serve straight from the app folders (no collectstatic needed); on in DEBUG, off in production."""
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en"
# The interface language (console, report chrome, login pages, admin, the live page's JavaScript); independent
# of an interview's language. Catalogues: locale/<code>/LC_MESSAGES/django.po and djangojs.po.
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Live state, channel layer, broker ------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
EMBEDDED = not REDIS_URL
"""True when the service runs alone: in-process channel layer, Redis substitute and Celery worker."""
REDIS_CLUSTER_URLS = env_list("REDIS_CLUSTER_URLS", [])
"""Redis Cluster nodes (redis://host:port, a few masters suffice) for live state and the channel layer. The
Celery broker stays on ``REDIS_URL``, a plain Redis: kombu does not speak the cluster protocol."""
STATE_REDIS_CLUSTER = bool(REDIS_CLUSTER_URLS)
STATE_REDIS_URL = REDIS_CLUSTER_URLS[0] if REDIS_CLUSTER_URLS else REDIS_URL

if EMBEDDED:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.01}
elif REDIS_CLUSTER_URLS:
    # Redis Cluster (docs/operations.md): channels-redis' sharded configuration, one host per master. The
    # pub/sub layer stores no keys (a channel or group is a PUBLISH channel on the shard its name hashes to),
    # so no command ever meets a MOVED redirect; the core layer's keys would land in other nodes' slots.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": None, "max_connections": 200}
                                 for url in REDIS_CLUSTER_URLS]},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 closes idle sockets after 5 s unless socket_timeout is None (1011 closes).
                # A pool built from a URL retries nothing: after a Redis restart every pooled connection failed
                # its next command once, and a consumer whose channel receive failed died (1011). With
                # REDIS_RETRIES the command reconnects and goes again (interview_project/redis_retry.py).
                "hosts": [{"address": url, "socket_timeout": None, "max_connections": 200,
                           "retry": redis_retry(REDIS_RETRIES, asyncio=True)}
                          for url in env_list("CHANNEL_REDIS_HOSTS", [REDIS_URL])],
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
if not EMBEDDED:
    CELERY_BROKER_URL = REDIS_URL
    # A killed worker's unacked tasks come back after this many seconds. It must exceed the longest task time
    # limit (final_pass: 2000 s), or a long task is redelivered while it still runs (tests/reliability/test_workers.py checks it).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 2400)}

CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "interviews"
# The final pass re-transcribes a whole recording: its own queue, so it never delays live chunks when
# separate workers serve the two (`-Q interviews` and `-Q interviews_final`).
# Slow calls off the ordered live chain (the optional LLM judgement of an answer, an HTTP call of up to
# 2 × OPENAI_TIMEOUT_S): `interviews_slow`. Worker layout in docs/stt.md ("Worker pools").
CELERY_TASK_ROUTES = {
    "interview.final_pass": {"queue": "interviews_final"},
    "interview.answer_judge": {"queue": "interviews_slow"},
    "interview.import_recording": {"queue": "interviews_final"},
}
FINALIZE_QUEUE = env_str("FINALIZE_QUEUE", "")
"""Optional queue for `interview.finalize` (e.g. `interviews_end`, consumed by the live workers too:
`-Q interviews_end,interviews`). Unset: the live queue, where it is already taken before other sessions'
queued decodes (its priority is 0, a transcribe step's 3: analysis.tasks.STAGE_PRIORITY)."""
if FINALIZE_QUEUE:
    CELERY_TASK_ROUTES["interview.finalize"] = {"queue": FINALIZE_QUEUE}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_DB_REUSE_MAX = 1000
"""Celery's Django fix-up closes every database connection after every task unless this is set; with it, only
every 1000th task. celery_app.py closes the unusable and the obsolete ones (CONN_MAX_AGE) around each task."""
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env_float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 180.0)
"""Seconds a new prefork child may take to report up. Each child loads the speech models at start
(`worker_process_init`), which takes well over Celery's default 4 s on a loaded machine: with the default, a
child that replaces a killed one is itself killed again and again, and the pool stays one process short."""

# --- The live interview ----------------------------------------------------------------------------------
SESSION_TTL_S = env_int("SESSION_TTL_S", 900)
"""How long a session's live state survives without traffic (a disconnected client may resume within it)."""
HEARTBEAT_S = env_int("HEARTBEAT_S", 20)
"""How often a client should ping when it has no audio to send (announced in connection_ack)."""
HEARTBEAT_TIMEOUT_S = env_float("HEARTBEAT_TIMEOUT_S", 3 * HEARTBEAT_S)
"""The server closes a socket (4408) that sent neither audio nor any other frame for this long."""
SESSION_IDLE_FINALIZE_S = env_int("SESSION_IDLE_FINALIZE_S", 600)
"""A live session without traffic for this long is finalised by the sweeper from its durable recording."""
SESSION_SWEEP_EVERY_S = env_float("SESSION_SWEEP_EVERY_S", 60.0)
FINALIZE_STUCK_S = env_int("FINALIZE_STUCK_S", 1000)
"""A session finalizing for this long (its finalize lost) is finalised again; above the finalize time limit."""
FINALIZE_MAX_ATTEMPTS = env_int("FINALIZE_MAX_ATTEMPTS", 3)
LIVE_WINDOW_S = env_float("LIVE_WINDOW_S", 120.0)
"""Seconds of preprocessed audio and delivered results Redis keeps per session; older audio is read from the
durable recording (``sessions.recording``), so Redis memory per session is bounded whatever the length."""
AUDIO_MAX_CHUNK_MS = env_int("AUDIO_MAX_CHUNK_MS", 2000)
AUDIO_MAX_SPEED = env_float("AUDIO_MAX_SPEED", 4.0)
"""Audio may arrive this many times faster than real time, measured over a sliding window (sessions.limits)."""
AUDIO_RATE_WINDOW_S = env_float("AUDIO_RATE_WINDOW_S", 30.0)
"""The speed limit's window: at most AUDIO_MAX_SPEED × this many seconds of audio in any such window."""
WS_TEXT_FRAMES_PER_S = env_float("WS_TEXT_FRAMES_PER_S", 5.0)
WS_TEXT_FRAMES_BURST = env_float("WS_TEXT_FRAMES_BURST", 20.0)
MAX_SESSIONS_PER_USER = env_int("MAX_SESSIONS_PER_USER", 3)
MAX_SESSION_S = env_float("MAX_SESSION_S", 3 * 3600.0)
"""Longest interview, in seconds of audio; the session must then end (session_too_long)."""
WS_ALLOWED_ORIGINS = env_list("WS_ALLOWED_ORIGINS", [])

# --- Capacity (docs/stt.md "Capacity", docs/protocol.md "server_busy") ----------------------------------------
WORKER_CORES = env_int("WORKER_CORES", os.cpu_count() or 1)
"""CPU cores of the live worker pool (all `-Q interviews` workers together)."""
LIVE_SESSIONS_PER_CORE = env_float("LIVE_SESSIONS_PER_CORE", 2.0)
"""Measured: a live session costs about 0.25 CPU-s per audio second with the bundled base model (docs/stt.md)."""
LIVE_SESSION_CAPACITY = env_int("LIVE_SESSION_CAPACITY", int(LIVE_SESSIONS_PER_CORE * WORKER_CORES))
"""Live interviews admitted at once; the next one is refused with server_busy (or waits, with queue=1). 0: no limit."""
ADMISSION_QUEUE_TIMEOUT_S = env_float("ADMISSION_QUEUE_TIMEOUT_S", 60.0)
ADMISSION_IDLE_S = env_float("ADMISSION_IDLE_S", 60.0)
"""A session without audio for this long gives its slot up (a resume takes it back)."""

# --- Speech models ------------------------------------------------------------------------------------------
MODELS_DIR = Path(env_str("MODELS_DIR", str(BASE_DIR / ".models")))
WHISPER_MODEL = env_str("WHISPER_MODEL", "base")
WHISPER_DEVICE = env_str("WHISPER_DEVICE", "cpu")
WHISPER_COMPUTE_TYPE = env_str("WHISPER_COMPUTE_TYPE", "int8" if WHISPER_DEVICE == "cpu" else "float16")
WHISPER_CPU_THREADS = env_int("WHISPER_CPU_THREADS", 0)
"""CTranslate2 (and torch) threads per worker process; 0: the cores shared out among the pool's processes (a
prefork worker of 2 children on 2 cores: 1 each; a solo, threads or embedded worker: the cores, at most 4).
More threads than cores per process only spin: on this machine 2 threads per child of a 2-child pool cost 20-25 %
more CPU per audio second than 1 (docs/stt.md, "Capacity bench")."""
WHISPER_DEVICE_INDEX = [int(i) for i in env_list("WHISPER_DEVICE_INDEX", ["0"])]
"""GPU(s) of this worker process, e.g. `1` or `0,1` (one model copy per process; docs/stt.md "GPU")."""
WHISPER_NUM_WORKERS = env_int("WHISPER_NUM_WORKERS", 1)
"""Parallel decodes on the one model copy (set to the thread count of a `-P threads` GPU worker)."""
WHISPER_BEAM_SIZE = env_int("WHISPER_BEAM_SIZE", 5)
STT_PARTIAL_INTERVAL_S = env_float("STT_PARTIAL_INTERVAL_S", 1.75)
STT_COMMIT_WINDOW = env_str("STT_COMMIT_WINDOW", "short")
STT_BATCH = env_bool("STT_BATCH", False)
"""Cross-session micro-batching of a `-P threads` worker's decodes (docs/stt.md "Batching across sessions").
No effect on a prefork child (one thread: nothing to batch with); meant for the GPU worker."""
STT_BATCH_WINDOW_MS = env_float("STT_BATCH_WINDOW_MS", 10.0)
"""Longest a clip waits for other sessions' clips (a batch closes earlier when full or when every busy
transcribe thread has submitted)."""
STT_BATCH_MAX = env_int("STT_BATCH_MAX", 16)
"""Most clips in one batched decode."""
STT_BATCH_PARTIALS = env_bool("STT_BATCH_PARTIALS", True)
"""Batch partial decodes too (they share the batch's longest window; commits are grouped by their own)."""
STT_PARTIAL_DROP_LAG_S = env_float("STT_PARTIAL_DROP_LAG_S", 1.0)
"""A worker this far behind a chunk drops its partial (from half of it the partial interval stretches)."""
FEEDBACK_DEFER_LAG_S = env_float("FEEDBACK_DEFER_LAG_S", 2.0)
"""...and this far behind defers live feedback to a later chunk. Commits are never given up (analysis/overload.py)."""
"""Encoder window for committed utterances: "short" (twice the clip, at least 10 s) or "full" (30 s)."""
PREPROCESS_STEPS = env_list("PREPROCESS_STEPS", ["highpass"])
"""Enabled optional preprocessing steps (resampling and mix-down always run); see bench/preprocess.py."""

ANALYSIS_AFFECT = env_bool("ANALYSIS_AFFECT", True)
"""Affect (emotion) analysis from voice and text. Off where inferring emotion in hiring is restricted."""
FINAL_PASS = env_bool("FINAL_PASS", True)
"""Run the final pass (re-transcription, re-diarization, re-scoring) after each interview."""
FINAL_WHISPER_MODEL = env_str("FINAL_WHISPER_MODEL", "") or WHISPER_MODEL
FINAL_BEAM_SIZE = env_int("FINAL_BEAM_SIZE", 5)
STT_HOTWORDS = env_bool("STT_HOTWORDS", False)
"""Bias committed decodes and the final pass towards the question set's keywords and the interview's terms.
Off by default: on the shared recordings it did not lower WER/CER and unspoken terms raised it (bench/README.md)."""

# --- Recorded interviews and the report webhook (docs/recordings.md) ---------------------------------------
RECORDING_MAX_BYTES = env_int("RECORDING_MAX_BYTES", 500 * 1024 * 1024)
"""Largest upload accepted by POST /api/interviews/ (413 beyond it)."""
RECORDING_MAX_S = env_float("RECORDING_MAX_S", 4 * 3600.0)
"""Longest recording accepted (decoded duration); longer ones are refused with code too_long."""
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
"""Uploads above 5 MiB spill to a temporary file instead of memory."""
REPORT_WEBHOOK_URL = env_str("REPORT_WEBHOOK_URL", "")
"""POSTed a signed JSON notice when an interview's final report is stored (or its recording fails)."""
REPORT_WEBHOOK_SECRET = env_str("REPORT_WEBHOOK_SECRET", "")
"""HMAC-SHA256 key of the webhook signature; required when REPORT_WEBHOOK_URL is set."""
REPORT_WEBHOOK_TIMEOUT_S = env_float("REPORT_WEBHOOK_TIMEOUT_S", 10.0)
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "")
"""Origin the webhook's links start with (e.g. https://interviews.example.com); relative links without it."""
if REPORT_WEBHOOK_URL and not REPORT_WEBHOOK_SECRET:
    raise ImproperlyConfigured("REPORT_WEBHOOK_URL is set without REPORT_WEBHOOK_SECRET (the HMAC key)")

# --- Logging ----------------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json")
"""``json``: one JSON object per line with session_id, seq, task_id and stage (interview_project/logs.py)."""
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"},
        "json": {"()": "interview_project.logs.JsonFormatter"},
    },
    "filters": {
        "redact": {"()": "interview_project.redact.RedactFilter"},
        "context": {"()": "interview_project.logs.ContextFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "celery": {"level": "WARNING"},
        "kombu": {"level": "ERROR"},
        "faster_whisper": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "daphne.access": {"level": env_str("ACCESS_LOG_LEVEL", "INFO")},
        # one handler for everything (Django's DEBUG-only console handler would print plain duplicates)
        "django": {"handlers": [], "propagate": True},
        "django.channels.server": {"level": "WARNING"},
    },
}

# --- REST API ---------------------------------------------------------------------------------------------
# Review surfaces (docs/api.md): token or session auth, per-user isolation, throttling, OpenAPI without a CDN.
INSTALLED_APPS += ["rest_framework.authtoken", "drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request then gets 401 with WWW-Authenticate, not a bare 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "sessions.api.parsers.SafeJSONParser",  # nested bodies and lone surrogates: 400, not 500
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["sessions.api.throttles.ApiAnonThrottle", "sessions.api.throttles.ApiUserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/min"),
        "user": env_str("API_THROTTLE_USER", "1200/min"),
        "ws_ticket": env_str("API_THROTTLE_WS_TICKET", "10/min"),
    },
    "EXCEPTION_HANDLER": "sessions.api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Interview analysis API",
    "DESCRIPTION": "Review finished interviews, export transcripts and reports, erase data, issue WebSocket tickets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "InterviewLanguageEnum": "sessions.models.Interview.Language",
        "QuestionSetLanguageEnum": [("ko", "Korean"), ("en", "English")],
    },
}
RETENTION_DAYS = env_int("RETENTION_DAYS", 90)
"""Interviews (rows, audio, live state) older than this many days are erased by interview.purge_expired."""
CELERY_IMPORTS = ["sessions.retention", "sessions.webhooks", "analysis.recording_tasks"]
CELERY_BEAT_SCHEDULE = {
    "sweep-idle-sessions": {"task": "interview.sweep_idle", "schedule": SESSION_SWEEP_EVERY_S},
    "purge-expired-interviews": {"task": "interview.purge_expired", "schedule": env_int("RETENTION_PURGE_EVERY_S", 3600)},
}

# --- Operations (docs/operations.md) ----------------------------------------------------------------------
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
"""When set, /metrics wants ``Authorization: Bearer <token>``; /healthz and /readyz stay open."""
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
"""When set, each Celery worker serves its processes' metrics on this port (PROMETHEUS_MULTIPROC_DIR)."""
READY_TIMEOUT_S = env_float("READY_TIMEOUT_S", 1.0)
"""How long /readyz waits for each check (worker replies, broker connection)."""
READY_QUEUES = env_list(
    "READY_QUEUES", ["interviews", "interviews_final"] + (["interviews_slow"] if os.environ.get("OPENAI_API_KEY") else [])
)
"""Queues /readyz wants at least one worker on (drop interviews_final when FINAL_PASS=0); interviews_slow
(the LLM judgement) only when an OPENAI_API_KEY makes that queue used."""
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    from interview_project.logs import sentry_init

    sentry_init(SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"),
                traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0))
