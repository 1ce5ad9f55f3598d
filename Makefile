# Two commands on a fresh Debian/Ubuntu machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS_DIR ?= .models
# compilemessages walks every locale/ folder below here: not the virtualenv's (Django's own catalogues)
COMPILEMESSAGES_IGNORE := -i .venv -i staticfiles -i var -i node_modules
export MODELS_DIR

.PHONY: run test install models migrate static messages worker bench bench-nodes lint clean system-deps browser-deps ops-deps

# The laptop demo: DEBUG on unless the caller says otherwise (everything else defaults to production).
run: install models migrate static ## install, migrate and start the service on the embedded defaults
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) $(PY) -m interview_project.serve

# daphne serves no static files: collect them for WhiteNoise (admin styles, Swagger UI/Redoc, console).
# The compiled catalogues (.mo) are committed and rebuilt here from the .po files (a test checks they match).
static: install
	DEBUG=1 $(PY) manage.py compilemessages -v0 $(COMPILEMESSAGES_IGNORE)
	DEBUG=1 $(PY) manage.py collectstatic --noinput -v0

MAKEMESSAGES_IGNORE := -i ".venv/*" -i "staticfiles/*" -i "tests/*" -i "bench/*" -i "clients/*" -i "deploy/*" -i "var/*"
# After changing an interface string: refresh the Korean catalogues, translate the new msgids, recompile.
messages: install
	DEBUG=1 $(PY) manage.py makemessages -l ko --no-location $(MAKEMESSAGES_IGNORE)
	DEBUG=1 $(PY) manage.py makemessages -d djangojs -l ko --no-location $(MAKEMESSAGES_IGNORE)
	DEBUG=1 $(PY) manage.py compilemessages -v0 $(COMPILEMESSAGES_IGNORE)

install: $(VENV)/.installed

# mysqlclient compiles against libmysqlclient; install the headers when apt is there and they are not.
# gettext: msgfmt compiles the interface catalogues (locale/, `make messages`).
system-deps:
	@if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq pkg-config default-libmysqlclient-dev build-essential gettext; \
	  else echo "install pkg-config and the MySQL/MariaDB client headers, then re-run" >&2; exit 1; fi; \
	fi
	@if ! command -v msgfmt >/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq gettext; \
	  else echo "install gettext (msgfmt), then re-run" >&2; exit 1; fi; \
	fi

# Debian's Chromium for the browser tests (never a browser download from Playwright).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; fi

# HAProxy (the load balancer of tests/scale), redis-server (own instances and a local Redis Cluster there) and
# docker-compose (checks deploy/compose.yaml).
ops-deps:
	@missing=""; command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; fi

$(VENV)/.installed: requirements.txt requirements-nodeps.txt | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

models: install
	$(PY) -m analysis.stt.models $(MODELS_DIR)

migrate: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

worker: install models ## a production-shape worker (needs REDIS_URL)
	$(VENV)/bin/celery -A celery_app worker -Q interviews,interviews_final,interviews_slow --concurrency=2 --max-memory-per-child=2097152 --loglevel=INFO

bench-nodes: install models ops-deps ## sessions spread over two daphne nodes behind HAProxy and N workers
	$(PY) -m bench.nodes

test: install models browser-deps static ops-deps
	$(PY) -m pytest

bench: install models
	$(PY) -m bench.stream --all

# Fails on any finding: ruff's rules and the import contract (layers; see docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf var .pytest_cache test-output
