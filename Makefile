# The two commands that matter (see README.md):
#   make local   - set everything up, start the emulator, run site.yml against inventories/local, stop it
#   make test    - set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv

.PHONY: setup local test unit integration molecule sanity lint clean

setup:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh

local: setup
	VENV=$(VENV) scripts/run-local.sh

test: setup
	VENV=$(VENV) scripts/test.sh all

unit integration molecule sanity lint: setup
	VENV=$(VENV) scripts/test.sh $@

clean:
	rm -rf $(VENV) .collections .emulator tests/output
