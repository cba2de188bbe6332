# Two set-up commands (see README): `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Debian packages the tests need (real peers for interop tests).
DEB_PKGS := cups-ipp-utils nut-server

.PHONY: demo test venv sysdeps bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

sysdeps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "need Debian packages:$$missing (run as root or install them)"; exit 1; fi; fi

demo: $(STAMP)
	$(BIN)/examhw demo --report report

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pytest tests/bench --benchmark-only -p no:randomly

clean:
	rm -rf $(VENV) report .pytest_cache
