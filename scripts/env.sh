#!/usr/bin/env bash
# Sourced by the project's scripts: the environment every local run and test uses. Expects the
# current directory to be the checkout.
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.collections"
