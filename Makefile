# Everything a newcomer needs: `make run` opens the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'  # editable: the project's root on the path (see pyproject.toml)
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/queuectl-tui

test: $(STAMP)
	-@sh scripts/ensure_postgres.sh
	env -u NO_COLOR -u TEXTUAL_DRIVER -u TEXTUAL_DEBUG -u TEXTUAL_LOG -u TEXTUAL_FPS $(BIN)/python -m pytest $(PYTEST_ARGS)

screenshots: $(STAMP)
	$(BIN)/python scripts/export_screenshots.py

bench: $(STAMP)
	bash bench/setup.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
