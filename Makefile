# Two set-up commands: `make demo` and `make test`. Each works alone on a fresh
# Debian 12 / Raspberry Pi OS machine: system packages are installed when missing
# (as root) or the exact command to run is printed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_HOME ?= demo-data
DEMO_ARGS ?=
SYSTEM_PACKAGES := libzbar0 fonts-noto-cjk espeak-ng alsa-utils
TEST_SYSTEM_PACKAGES := libzbar0 chromium fonts-noto-cjk poppler-utils systemd shellcheck espeak-ng alsa-utils postgresql

.PHONY: demo test test-arm64 lint bench venv system-packages test-system-packages clean

$(VENV)/.installed: pyproject.toml
	@# Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || PACKAGES=python3-venv sh scripts/ensure-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

system-packages:
	@PACKAGES="$(SYSTEM_PACKAGES)" sh scripts/ensure-system-packages.sh

test-system-packages:
	@PACKAGES="$(TEST_SYSTEM_PACKAGES)" sh scripts/ensure-system-packages.sh

demo: system-packages venv
	$(PY) -m kiosk --home $(DEMO_HOME) demo $(DEMO_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Two pytest-xdist workers (CI machines have 2 cores), each taking whole test files: a file's
# module-scoped servers and browser start once. Tests wait on conditions, never on luck, so a busy
# machine makes them slower, not wrong. `make test PYTEST_ARGS=` runs them in one process.
# Tests marked single_process (ids pytest-xdist cannot tell apart) run after, in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile
test: test-system-packages venv lint
	$(PY) -m pytest -W error -p no:cacheprovider $(PYTEST_ARGS) -m "not single_process"
	$(PY) -m pytest -W error -p no:cacheprovider -m single_process

# Not part of `make test`: installs the gate into an arm64 Debian root under qemu
# (root needed; about 25-40 minutes, see docs/raspberry-pi.md).
test-arm64:
	bash scripts/test-arm64.sh

bench: system-packages venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache build *.egg-info
