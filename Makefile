# The README's commands. `make run` starts the platform on embedded defaults; `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# make run is for a developer's machine: DEBUG on unless the environment says otherwise.
# SITE_URL (e-mail links, the CSP's WebSocket origin) follows HOST and PORT unless the environment sets it.
RUN_ENV := DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} PATH=$(BIN):$$PATH

.PHONY: run test lint typecheck pytest css bench clean

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

run: $(VENV)/.installed-run
	mkdir -p var
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	@# With DEBUG off static files are served from their collected, hashed copies only.
	@case "$${DEBUG:-true}" in false|False|0|no|off) $(RUN_ENV) $(BIN)/python manage.py collectstatic --noinput -v0;; esac
	$(RUN_ENV) $(BIN)/python manage.py ensure_demo_operator
	$(RUN_ENV) $(BIN)/python manage.py ensure_demo_enrollment --file var/demo-enrollment-token
	@echo
	@echo "Switchboard is starting: portal http://$(HOST):$(PORT)/  ·  operator console http://$(HOST):$(PORT)/admin/"
	@echo
	$(RUN_ENV) HOST=$(HOST) GATEWAY_URL=http://$(HOST):$(PORT) WORKER_ENROLLMENT_TOKEN_FILE=var/demo-enrollment-token \
		$(BIN)/honcho start --procfile Procfile --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint typecheck pytest

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
