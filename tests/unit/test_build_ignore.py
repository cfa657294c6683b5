"""What the checkout keeps out of git at its top (virtualenvs, caches, reports) must stay out of the built
collection too: a tarball built after `scripts/test.sh minver` once carried the whole .venv-min."""

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_top_level_ignored_path_is_left_out_of_the_build():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        build_ignore = set(yaml.safe_load(handle)["build_ignore"])
    with open(os.path.join(ROOT, ".gitignore"), encoding="utf-8") as handle:
        top = [line.strip().strip("/") for line in handle if line.startswith("/")]
    assert top, "no top-level entry in .gitignore"
    missing = [name for name in top if name not in build_ignore]
    assert missing == [], "add these to galaxy.yml's build_ignore: %s" % missing
