# Everything a fresh machine needs: a virtual environment with the project and its dev extra,
# and the system Graphviz. `make demo` runs the main job, `make test` the tests.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test setup clean

setup: $(VENV)/.installed
	@bash scripts/system-deps.sh graphviz

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/autograph demo

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) autograph-out
