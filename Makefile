# The README's commands. `make run` starts the platform on embedded defaults; `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# The file whose variables every step of make run sees (paas/dotenv.py), and the processes it starts.
ENV_FILE ?= .env
PROCFILE ?= Procfile
# make run is for a developer's machine: DEBUG on unless the environment or .env says otherwise.
# SITE_URL (e-mail links, the CSP's WebSocket origin) follows HOST and PORT unless the environment or .env sets it.
RUN_ENV := DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} PATH=$(BIN):$$PATH
VAR := $${SWITCHBOARD_VAR_DIR:-var}

.PHONY: run run-steps test lint typecheck schema pytest css bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Switchboard needs Python 3.11 or newer (found $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

# Every step must see .env, not only honcho's processes (a DATABASE_URL there is the database to migrate), so the
# steps run in a make of their own whose environment has the file's variables added; the environment wins over them.
run: $(VENV)/.installed-run
	@$(BIN)/python paas/dotenv.py $(ENV_FILE) $(MAKE) --no-print-directory run-steps

# make run's steps; `make run` runs them with .env in their environment.
run-steps:
	mkdir -p "$(VAR)"
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	@# With DEBUG off static files are served from their collected, hashed copies only.
	@case "$${DEBUG:-true}" in [Ff][Aa][Ll][Ss][Ee]|0|[Nn][Oo]|[Oo][Ff][Ff]) \
		$(RUN_ENV) $(BIN)/python manage.py collectstatic --noinput -v0;; esac
	$(RUN_ENV) $(BIN)/python manage.py ensure_demo_operator
	$(RUN_ENV) $(BIN)/python manage.py ensure_demo_enrollment --file "$(VAR)/demo-enrollment-token"
	@echo
	@echo "Switchboard is starting: portal http://$(HOST):$(PORT)/  ·  operator console http://$(HOST):$(PORT)/admin/"
	@echo
	@# --env /dev/null: .env is in the environment already, and honcho would let the file win over the environment.
	$(RUN_ENV) HOST=$(HOST) GATEWAY_URL=http://$(HOST):$(PORT) WORKER_ENROLLMENT_TOKEN_FILE="$(VAR)/demo-enrollment-token" \
		$(BIN)/honcho start --env /dev/null --procfile $(PROCFILE) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# The architecture's contracts (.importlinter): no upward import, no cycle, the worker apart from the gateway.
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# pytest-xdist: more workers than the 2 cores, since the end-to-end tests mostly wait on their processes; worksteal
# moves short tests to whichever worker is idle (conftest.py starts the slowest first). PYTEST_ARGS="-n 0 …" for one.
PYTEST_WORKERS ?= 4
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The API schema as drf-spectacular builds it must be valid OpenAPI and come with no warning: each one is a field, an
# answer or a parameter the schema does not describe (the test settings, as the schema tests use).
schema: $(VENV)/.installed-dev
	DJANGO_SETTINGS_MODULE=paas.test_settings $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

test: lint typecheck schema pytest

# Rebuilds the committed stylesheet and the vendored htmx; needs Node.js and npm, which `make run` does not.
css:
	npm ci --no-audit --no-fund
	npx tailwindcss -i assets/css/input.css -o static/css/app.css --minify
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

# The numbers performance claims rest on (bench/README.md, bench/MESSAGING.md); about 15 minutes on 2 cores.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench
	$(BIN)/python -m bench.messaging
	$(BIN)/python -m bench.cpu_per_message
	$(BIN)/python -m bench.webhooks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
