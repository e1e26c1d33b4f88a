# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo check test bench bench-detail install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed-core: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

PLUGINS := polars kedro dagster prefect

$(VENV)/.installed-test: pyproject.toml constraints.txt $(PLUGINS:%=plugins/flow-artifacts-%/pyproject.toml) | $(PY)
	$(PIP) install -c constraints.txt -e ".[test]" $(PLUGINS:%=-e plugins/flow-artifacts-%)
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

# The benchmarks run in their own environment: the peers they compare with (Kedro, Dagster, MLflow)
# never enter the test environment. `make bench BENCH_ARGS=--quick` checks the harness in minutes.
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python

# Pinned to what the test environment resolved, so the benchmarks measure the same libraries and
# pip does not search the test extras' versions again; the peers resolve around those pins.
$(BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements-bench.txt $(VENV)/.installed-test
	$(PYTHON) -m venv $(BENCH_VENV)
	$(PY) -m pip --disable-pip-version-check freeze --exclude-editable > $(BENCH_VENV)/pins.txt
	$(BENCH_PY) -m pip --disable-pip-version-check -q install -c $(BENCH_VENV)/pins.txt \
		-e ".[test]" -r benchmarks/requirements-bench.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_PY) benchmarks/ratios.py $(BENCH_ARGS)

# The older single-topic benchmarks, each with its own detailed output.
bench-detail: $(BENCH_VENV)/.installed
	$(BENCH_PY) benchmarks/bench_materialize.py
	$(BENCH_PY) benchmarks/bench_catalog.py
	$(BENCH_PY) benchmarks/bench_steps.py
	$(BENCH_PY) benchmarks/bench_stores.py
	$(BENCH_PY) benchmarks/bench_ui.py
	$(BENCH_PY) benchmarks/bench_lineage.py
	$(BENCH_PY) benchmarks/bench_scale.py
	$(BENCH_PY) benchmarks/bench_integrations.py
	$(BENCH_PY) benchmarks/bench_distributed.py
	$(BENCH_PY) benchmarks/oracle_soak.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .flow_artifacts .test-servers
