VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv demo worker beat bench load serve clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $$(bin/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

## Migrate, load the demo data on first use and serve the site on http://$(HOST):$(PORT)/
run: venv
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

## Run the whole test suite; DATABASE_URL and CELERY_BROKER_URL point it at PostgreSQL and Redis
test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

## Benchmark on PostgreSQL at 5,000, 20,000 and 50,000 parent accounts (BENCH_ARGS="--parents 20000" for one size)
bench: venv
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) bench/run.py $(BENCH_ARGS)

## Load run: 50 users browse for two minutes while imports recompute (LOAD_ARGS="--parents 2000" to change it)
load: venv
	$(PY) -m pip install --quiet -e ".[dev,load]"
	$(PY) bench/load/run.py $(LOAD_ARGS)

## Production shape on this machine: gunicorn, a Celery worker and beat, PostgreSQL and Redis, plain HTTP
serve: venv
	test -s .serve-secret || $(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > .serve-secret
	SECRET_KEY="$$(cat .serve-secret)" \
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tamarind}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false SECURE_HSTS_SECONDS=0 \
	BIND=$(HOST):$(PORT) bin/serve

worker: venv
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: venv
	$(VENV)/bin/celery -A config beat --loglevel=INFO

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles media
