# One command for the main job, one for the tests; both install what they need first.
.PHONY: setup demo test test-fast lock airflow

setup:
	./scripts/setup.sh

demo: setup
	.venv/bin/lakehouse demo

test: setup
	.venv/bin/pytest -q

test-fast: setup
	.venv/bin/pytest -q tests/unit

airflow: setup
	./scripts/airflow_local.sh

lock:
	.venv/bin/uv pip compile -q --python 3.11 pyproject.toml --extra test -o requirements.lock --no-header
