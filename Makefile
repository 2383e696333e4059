# The project's commands. Each one sets up what it needs (uv, the venv, packages) by itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced-dev
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo demo-offline cluster serve test coverage bench lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --user --break-system-packages uv `# PEP 668 (Debian's python3)` \
	  || { echo "error: could not install uv with $(PYTHON): install python3-pip (Debian: apt-get install python3-pip)" \
	       "or uv (https://docs.astral.sh/uv/), then run make again" >&2; exit 1; }
	$(PYTHON) -m uv sync --frozen --extra dev --python $(PYTHON)
	@touch $@

demo: $(STAMP)
	$(VENV_PY) examples/platform_demo.py

cluster: $(STAMP)
	$(VENV_PY) scripts/cluster.py $(ARGS)

demo-offline: $(STAMP)
	$(VENV_PY) examples/offline_demo.py

serve: $(STAMP)
	@test -f runs/platform/admin-password.txt && echo "admin password: runs/platform/admin-password.txt" || true
	BREVETTI_AI_ADMIN_PASSWORD=$${BREVETTI_AI_ADMIN_PASSWORD:-$$(cat runs/platform/admin-password.txt 2>/dev/null)} \
	  $(VENV_PY) -m brevettiai.cli server --data-dir runs/platform --port 8000

test: $(STAMP)
	$(VENV_PY) -m pytest -n 2 -q tests

# The whole suite under coverage, with the server, job and CLI processes the tests start (see [tool.coverage] in
# pyproject.toml); slower than `make test`, so a target of its own. Per part: scripts/coverage_summary.py.
coverage: $(STAMP)
	rm -f .coverage .coverage.*
	$(VENV_PY) -m coverage run -m pytest -n 2 -q tests; status=$$?; \
	  $(VENV_PY) -m coverage combine -q && $(VENV_PY) -m coverage report --sort=cover | tail -n 1 \
	  && $(VENV_PY) scripts/coverage_summary.py; exit $$status

bench: $(STAMP)
	$(VENV_PY) bench/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs bench/.venvs
