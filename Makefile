# The two commands that matter (see README.md):
#   make local   - set everything up, start the emulator, run site.yml against inventories/local, stop it
#   make test    - set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv

.PHONY: setup local test check unit integration molecule sanity lint ee bench clean

setup:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh

local: setup
	VENV=$(VENV) scripts/run-local.sh

test: setup
	VENV=$(VENV) scripts/test.sh all

# The fast tier for the edit loop (unit, module and manifest tests, ansible-lint; no deployment).
check: setup
	VENV=$(VENV) scripts/test.sh check

unit integration molecule sanity lint: setup
	VENV=$(VENV) scripts/test.sh $@

# Deployment benchmark (not part of the test suite): BENCH_ARGS="--regions 2 --scale 0.005" to change it.
bench: setup
	$(VENV)/bin/python tests/bench/bench.py $(BENCH_ARGS)

# The AWX execution environment: the collection tarball, then the image (needs podman or docker).
ee: setup
	rm -rf dist && $(VENV)/bin/ansible-galaxy collection build --output-path dist
	$(VENV)/bin/ansible-builder build -f execution-environment.yml -t gke-inference-ee:0.1.0

clean:
	rm -rf $(VENV) .venv-min .collections .emulator tests/output dist context
