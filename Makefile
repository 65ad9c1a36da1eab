# Two commands from a fresh clone (see README.md): `make demo` and `make test`. Both idempotent.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/restoration-uniform/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,s3,bioio,bioimageio,napari]' -e plugins/restoration-uniform
	touch $(STAMP)

# Restore the bundled sample data (data/noisy, references in data/clean) into out/demo.
demo: setup
	$(BIN)/restoration run data/noisy -o out/demo --reference data/clean --overwrite

test: setup
	bash .ci/install-chromium.sh
	bash .ci/install-postgresql.sh
	bash .ci/install-qt-libs.sh $(BIN)/python
	# Two processes (pytest-xdist; a test goes to whichever is free, so a module's server may start
	# in both), then the tests that assert a wall time, alone; both parts run, either fails the target.
	status=0; \
	$(BIN)/python -m pytest -q -n 2 --dist worksteal -m "not serial" --durations=15 || status=$$?; \
	$(BIN)/python -m pytest -q -m serial --durations=5 || status=$$?; \
	exit $$status

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/denoise_quality.py

clean:
	rm -rf out
