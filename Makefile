# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo check test bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed-core: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

PLUGINS := polars kedro dagster prefect

$(VENV)/.installed-test: pyproject.toml $(PLUGINS:%=plugins/flow-artifacts-%/pyproject.toml) | $(PY)
	$(PIP) install -e ".[test]" $(PLUGINS:%=-e plugins/flow-artifacts-%)
	touch $@

install: $(VENV)/.installed-core

demo: $(VENV)/.installed-core
	$(PY) examples/quickstart.py

check: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy flow_artifacts

test: check
	bash scripts/install-test-servers.sh
	bash scripts/install-browser.sh
	$(PY) -m pytest --durations=25 $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_materialize.py
	$(PY) benchmarks/bench_catalog.py
	$(PY) benchmarks/bench_steps.py
	$(PY) benchmarks/bench_stores.py
	$(PY) benchmarks/bench_ui.py
	$(PY) benchmarks/bench_lineage.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_integrations.py
	$(PY) benchmarks/bench_distributed.py
	$(PY) benchmarks/oracle_soak.py

clean:
	rm -rf $(VENV) .flow_artifacts .test-servers
