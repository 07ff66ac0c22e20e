# The two commands of the README. Both set up what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: run test install bench clean

run: install          ## the gateway on SQLite + embedded broker at http://127.0.0.1:8000 (DEVCHAIN=1: + local anvil/litecoind)
	$(VENV)/bin/python scripts/run.py

test: install         ## the whole suite against private PostgreSQL and Redis servers
	bash scripts/test.sh $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf .data
