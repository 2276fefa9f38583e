# The two commands: `make run` (set up, then serve on embedded defaults) and `make test`
# (set up, then lint, type-check and run every test). Both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck pytest agents bench fake-upstream lock clean wheelhouse base-image image

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: setup
	$(BIN)/adaptive-proxy serve --config config.yaml

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy domain application adapters entrypoints devtools container.py

# The coding agents the suite runs as clients (tests/agents), from their lock file; npm ci only
# when the lock changed since the last install.
AGENTS := tests/agents
$(AGENTS)/node_modules/.installed: $(AGENTS)/package-lock.json $(AGENTS)/package.json
	cd $(AGENTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

agents: $(AGENTS)/node_modules/.installed

pytest: setup agents
	$(BIN)/pytest

test: lint typecheck pytest

bench: setup
	$(BIN)/python bench/run.py

fake-upstream: setup
	$(BIN)/adaptive-proxy fake-upstream --port 9100

# Re-pin every dependency at the versions installed in .venv (after changing pyproject.toml).
lock:
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v '^adaptive-proxy' > requirements.lock

# The container image (Dockerfile): runtime wheels built on the host at the locked versions, then
# an offline `docker build` on BASE (default: the debootstrap image `make base-image` imports).
IMAGE ?= adaptive-proxy:latest
BASE ?= adaptive-proxy-base:bookworm

wheelhouse: setup
	rm -rf build/wheelhouse
	$(BIN)/python -m pip wheel --quiet --no-build-isolation -c requirements.lock -w build/wheelhouse . \
		"async-timeout==5.0.1"  # redis needs it on Python < 3.11.3 (Debian bookworm's 3.11.2)

base-image:
	deploy/base-image.sh $(BASE)

image: wheelhouse
	docker build --network host --build-arg BASE=$(BASE) -t $(IMAGE) .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info build $(AGENTS)/node_modules
