#!/usr/bin/env bash
# Airflow on this machine with the project's DAGs: the demo bank's deliveries in ./landing, the
# resident engine started once, then `airflow standalone` (UI on http://localhost:8080).
# Stop with Ctrl-C (the engine stops with it). Everything lives under ./.airflow and the
# lakehouse's own folders from conf/lakehouse.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PWD/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export LAKEHOUSE_CONF="$PWD/conf"

lakehouse dags compile --check
lakehouse demo --deliver-only --customers "${DEMO_CUSTOMERS:-500}" --days "${DEMO_DAYS:-3}"
lakehouse engine serve > "$AIRFLOW_HOME.engine.log" 2>&1 &
engine=$!
trap 'kill $engine 2>/dev/null || true' EXIT
until grep -q "lakehouse engine ready" "$AIRFLOW_HOME.engine.log"; do
  kill -0 $engine 2>/dev/null || { cat "$AIRFLOW_HOME.engine.log"; exit 1; }
  sleep 1
done
echo "engine ready (log: $AIRFLOW_HOME.engine.log); starting Airflow, then in another shell:"
echo "  export AIRFLOW_HOME=$AIRFLOW_HOME PATH=$PWD/.venv/bin:\$PATH"
echo "  for s in ref cbs ccs lns; do airflow dags trigger t1_\$s --conf '{\"data_date\": \"2026-11-01\"}'; done"
airflow standalone
