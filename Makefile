# One command for the main job, one for the tests; both install what they need first.
.PHONY: setup demo test test-fast test-slow test-all lock airflow

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/lakehouse demo

# the developer's loop: both tiers without the minutes-long scenarios (under 10 minutes on 2 cores)
test: setup
	.venv/bin/pytest -q -m "not slow"

test-fast: setup
	.venv/bin/pytest -q tests/unit

# the minutes-long end-to-end scenarios (demo bank through the layers, Airflow, standalone
# cluster, zipper property and backfill); CI runs them after `make test`
test-slow: setup
	.venv/bin/pytest -q -m slow

test-all: setup
	.venv/bin/pytest -q

airflow: setup
	./scripts/airflow_local.sh

lock:
	.venv/bin/uv pip compile -q --python 3.11 pyproject.toml --extra test -o requirements.lock --no-header
