#!/usr/bin/env bash
# `npm test`: the whole suite (unit specs in src/, e2e specs in test/) against real PostgreSQL and
# Redis. Arguments go to jest (npm test -- test/lessons.e2e-spec.ts -t publish). The suite makes its
# own databases (classcast_t_*) and Redis prefixes and removes them; .env is not read.
#   TEST_DATABASE_ADMIN_URL  default postgres://postgres@127.0.0.1:5432/postgres (may create databases)
#   TEST_REDIS_URL           default redis://127.0.0.1:6379
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

DATABASE_URL=${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
  REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379} \
  bash scripts/ensure-services.sh --services-only

# The crash-and-resume spec runs the built server in its own process: build when dist/ is stale.
if [ ! -f dist/src/main.js ] || [ -n "$(find src migrations -newer dist/src/main.js -print -quit)" ]; then
  echo "test: building (npm run build)"
  npm run build
fi

exec npx jest --maxWorkers=2 "$@"
