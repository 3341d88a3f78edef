#!/usr/bin/env bash
# Starts the whole of Classcast on this machine (`bash scripts/up.sh`, or `npm run up` once npm is
# there): installs the dependencies, writes .env on the first run, makes sure PostgreSQL and Redis
# answer (starting or installing local ones), creates the database, builds, and runs the server in
# the foreground (role from ROLE, default all: api and worker in one process). Migrations run on boot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'up: %s\n' "$*"; }
die() {
  printf 'up: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

if ! have node || ! have npm; then
  die "Node.js 20.10 or newer with npm is needed: https://nodejs.org or your distribution's nodejs and npm packages"
fi
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)' ||
  die "Node.js 20.10 or newer is needed (this is $(node --version))"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

random_hex() { openssl rand -hex "$1" 2>/dev/null || node -e "console.log(require('crypto').randomBytes($1).toString('hex'))"; }

# Placeholders are replaced in a .env written here and in one copied by hand alike.
umask_before=$(umask)
umask 077 # .env holds secrets
if [ ! -f .env ]; then
  cp .env.example .env
  say "wrote .env from .env.example"
fi
chmod 600 .env
set_in_env() { # NAME VALUE: replaces the line NAME=change-me
  sed -e "s|^$1=change-me\$|$1=$2|" .env >.env.tmp
  mv .env.tmp .env
  chmod 600 .env
}
if grep -q '^JWT_SECRET=change-me$' .env; then set_in_env JWT_SECRET "$(random_hex 32)"; fi
if grep -q '^ADMIN_PASSWORD=change-me$' .env; then
  admin_password=$(random_hex 10)
  set_in_env ADMIN_PASSWORD "$admin_password"
  say "the first administrator (shown only now; change the password after logging in):"
  say "  e-mail:   $(sed -n 's/^ADMIN_EMAIL=//p' .env)"
  say "  password: $admin_password"
fi
umask "$umask_before"

# .env without eval: NAME=value lines; a variable already in the environment wins.
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
  name=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
  [ -z "${!name+set}" ] || continue
  if [[ $value =~ ^\"(.*)\"$ ]] || [[ $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
  export "$name=$value"
done <.env

: "${DATABASE_URL:?is not set: add it to .env (see .env.example)}"
: "${REDIS_URL:?is not set: add it to .env (see .env.example)}"
bash scripts/ensure-services.sh --create-db "$DATABASE_URL"
if [ -n "${DATA_DIR:-}" ]; then mkdir -p "$DATA_DIR"; fi

say "building (npm run build)"
npm run build --silent

port=${PORT:-3000}
case ${ROLE:-all} in
  all | api)
    say "starting Classcast (role ${ROLE:-all}); stop it with Ctrl-C"
    say "  API docs: http://localhost:$port/docs"
    say "  health:   http://localhost:$port/health (readiness: /health/ready)"
    ;;
  *) say "starting Classcast (role $ROLE, no HTTP); stop it with Ctrl-C" ;;
esac
# npm run demo runs the demo (server plus a seeded province) instead: CLASSCAST_ENTRY names it.
exec node "${CLASSCAST_ENTRY:-dist/src/main.js}"
