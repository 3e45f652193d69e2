VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv demo worker beat bench clean

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

worker: venv
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: venv
	$(VENV)/bin/celery -A config beat --loglevel=INFO

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles media
