# reportgen: `make run` serves the app with a worker; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Test files run in this many processes (pytest-xdist), each with its own embedded PostgreSQL and
# Redis; one when the tests use servers of your own (TEST_DATABASE_URL, TEST_REDIS_URL), which
# two processes would share. Three on two cores: a third of the suite's time is waiting (workers
# starting, retries backing off, a receiver trickling), which a third process fills.
TEST_PROCESSES ?= $(if $(TEST_DATABASE_URL)$(TEST_REDIS_URL),1,3)

.PHONY: run test test-unit test-capacity bench migrate worker clean help

help:
	@echo "make run    - set up .venv, migrate, serve on http://127.0.0.1:$(PORT) with a worker"
	@echo "make test   - set up .venv with test tools and run the whole suite"
	@echo "make test-unit - only tests/unit (no servers): the quick loop while working"
	@echo "make bench  - print report benchmarks against the ReportLab peer (bench/report_bench.py)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "reportgen needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(VENV)/.runtime
	PORT=$(PORT) $(BIN)/python -m reportgen.serving.devstack

migrate: $(VENV)/.runtime
	$(BIN)/flask --app wsgi db upgrade

worker: $(VENV)/.runtime
	$(BIN)/flask --app wsgi worker

# Each run keeps its scratch files (the embedded PostgreSQL's data among them) in a directory of its
# own: pytest prunes all but the newest three of /tmp/pytest-of-<user>/, so a second test session on
# the same machine deleted the first one's running database.
test: $(VENV)/.dev
	@scratch=$$(mktemp -d /tmp/reportgen-tests.XXXXXX); \
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder --basetemp=$$scratch -m "not capacity" $(PYTEST_ARGS); \
	status=$$?; rm -rf $$scratch; exit $$status

# The capacity tier: every shape at the upload cap within the memory budgets, 8 and 32 uploads at
# once, storage of a 5 MB upload and of 20,000 one-event students (CSV, HTML and PDF), on both
# databases: about 22 minutes of two cores, so `make test` leaves it out; run it before a release
# and after changing limits or rendering.
test-capacity: $(VENV)/.dev
	@scratch=$$(mktemp -d /tmp/reportgen-tests.XXXXXX); \
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --basetemp=$$scratch -m capacity $(PYTEST_ARGS); \
	status=$$?; rm -rf $$scratch; exit $$status

# The unit tier: the domain, the renderer and the formats in this process, no servers.
test-unit: $(VENV)/.dev
	$(BIN)/python -m pytest -n 2 tests/unit $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python bench/report_bench.py --quick

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
