# Two set-up commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs dermsynth with pinned, disk-cached versions (constraints.txt).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: install demo test test-long test-fast lint clean train-gen

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/dermsynth run --preset demo-cpu --out $(DEMO_OUT)

# The suite without the long end-to-end and smoke tests (marked `slow`); CI runs both targets.
test: install
	$(PY) -m pytest -q -m "not slow" --durations=15

test-long: install
	$(PY) -m pytest -q -m slow --durations=15

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser"

# Continue the shipped generator's training where the last round stopped (state in training/isic2017-gen/,
# commit it to keep the round). Runs until KIMG or until stopped (Ctrl-C / SIGTERM: the state is written).
train-gen: install
	$(PY) scripts/train_gen.py $(if $(KIMG),--kimg $(KIMG)) $(TRAIN_GEN_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
