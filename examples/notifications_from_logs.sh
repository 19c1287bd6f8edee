#!/usr/bin/env bash
# A practitioner's path: your own decision log in, a checked policy out.
# Here the "export" is simulated; replace log.parquet with your system's log in the schema of
# docs/notifications.md (user_id, timestamp, feature columns, action, reward, optional propensity).
set -euo pipefail
out=${1:-runs/notifications-example}
mkdir -p "$out"
python - "$out/log.parquet" <<'PY'
import sys
from functools import partial
from orlkit.data.events import log_events, write_event_log
from orlkit.envs.notifications import PRODUCTION_DAILY_CAP, logging_policy
write_event_log(log_events(2000, seed=1, policy=partial(logging_policy, daily_cap=PRODUCTION_DAILY_CAP)), sys.argv[1])
PY
orlkit data info "$out/log.parquet"                                   # what the log holds, or what is wrong with it
orlkit train ddqn --dataset "$out/log.parquet" --steps "${STEPS:-20000}" --out "$out/ddqn" --quiet
orlkit train cql  --dataset "$out/log.parquet" --steps "${STEPS:-20000}" --out "$out/cql" --quiet
orlkit ope "$out/ddqn" --dataset "$out/log.parquet"                   # estimates before anyone deploys it
orlkit ope "$out/cql"  --dataset "$out/log.parquet"
