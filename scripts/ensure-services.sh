#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer at DATABASE_URL and REDIS_URL (defaults: the local ones,
# postgres@127.0.0.1:5432 and 127.0.0.1:6379). A local service that does not answer is started,
# after installing it when it is missing and we are root with apt-get; otherwise this prints what
# to install and exits non-zero. Also installs zstd and ffmpeg (and minisign and chromium, optional)
# when missing.
#
#   bash scripts/ensure-services.sh                   services, then tools
#   bash scripts/ensure-services.sh --services-only   services only; missing tools are only reported
#   bash scripts/ensure-services.sh --create-db URL   also creates URL's database when it is missing
#
# Idempotent, and well under a second when everything already runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WAIT_SECONDS=30
pg_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
install_tools=1
create_db_url=
apt_updated=0

say() { printf 'ensure-services: %s\n' "$*"; }
die() {
  printf 'ensure-services: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
can_apt() { is_root && have apt-get; }
is_local_host() { case $1 in 127.* | localhost | ::1 | '') return 0 ;; *) return 1 ;; esac }
redact() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

while [ $# -gt 0 ]; do
  case $1 in
    --services-only) install_tools=0 ;;
    --create-db)
      [ $# -ge 2 ] || die "--create-db needs a postgres:// URL"
      create_db_url=$2
      shift
      ;;
    --create-db=*) create_db_url=${1#*=} ;;
    -h | --help)
      sed -n '2,11p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

apt_install() {
  local log=${TMPDIR:-/tmp}/classcast-apt.log
  say "installing $* with apt-get (log: $log)"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then
    if ! apt-get update -q >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      return 1
    fi
    apt_updated=1
  fi
  if ! apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    return 1
  fi
}

# Sets url_host and url_port from a URL (IPv6 brackets dropped), with a default port.
parse_host_port() {
  local rest=${1#*://} default_port=$2
  rest=${rest%%[/?#]*}
  rest=${rest##*@}
  if [[ $rest =~ ^\[([^]]+)\](:([0-9]+))?$ ]] || [[ $rest =~ ^([^:]*)(:([0-9]+))?$ ]]; then
    url_host=${BASH_REMATCH[1]:-127.0.0.1}
    url_port=${BASH_REMATCH[3]:-$default_port}
  else
    die "cannot read a host and port from $(redact "$1")"
  fi
}

# Prints URL with its database (path) replaced by NAME, keeping credentials and query.
with_database() {
  local url=$1 name=$2 scheme rest authority query=''
  scheme=${url%%://*}
  rest=${url#*://}
  authority=${rest%%[/?]*}
  rest=${rest:${#authority}}
  case $rest in *\?*) query="?${rest#*\?}" ;; esac
  printf '%s://%s/%s%s' "$scheme" "$authority" "$name" "$query"
}

database_of() {
  local rest=${1#*://}
  rest=${rest#"${rest%%[/?]*}"}
  rest=${rest%%\?*}
  printf '%s' "${rest#/}"
}

tcp_open() { timeout 3 bash -c ': <"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1; }

wait_for() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}

# --- PostgreSQL ----------------------------------------------------------------------------------

pg_answers() {
  if have pg_isready; then
    pg_isready -q -h "$pg_host" -p "$pg_port" -t 3
  else
    tcp_open "$pg_host" "$pg_port"
  fi
}

pg_server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || have pg_ctl; }

pg_cluster_version() { ls /etc/postgresql 2>/dev/null | head -1; }

start_postgres() {
  have pg_ctlcluster || die "PostgreSQL is installed but does not answer at $pg_host:$pg_port, and this is not a Debian-style install (no pg_ctlcluster): start it with your service manager (e.g. 'brew services start postgresql@16' or 'pg_ctl -D <data directory> start'), then run this again."
  if [ -z "$(pg_cluster_version)" ]; then
    is_root || die "PostgreSQL has no cluster yet: run 'sudo pg_createcluster <version> main', then run this again."
    local newest
    newest=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    say "creating PostgreSQL cluster $newest/main"
    pg_createcluster "$newest" main >/dev/null
  fi
  local version
  version=$(pg_cluster_version)
  say "starting PostgreSQL $version/main"
  if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
    is_root || die "could not start PostgreSQL as $(id -un): run 'sudo pg_ctlcluster $version main start', then run this again."
    die "pg_ctlcluster could not start PostgreSQL $version/main; see /var/log/postgresql/postgresql-$version-main.log"
  fi
}

# A server that Debian just installed accepts postgres only through the local socket (peer);
# the default URLs connect over TCP without a password, as a development machine does.
trust_loopback() {
  local version user hba
  version=$(pg_cluster_version)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  user=${pg_url#*://}
  user=${user%%[/?]*}
  case $user in
    *@*)
      user=${user%%@*}
      user=${user%%:*}
      ;;
    *) user=postgres ;;
  esac
  [[ $user =~ ^[A-Za-z0-9_]+$ ]] || return 1
  say "letting $user connect from this machine without a password (top of $hba)"
  sed -i "1i # Added by Classcast scripts/ensure-services.sh for local development\nhost all $user 127.0.0.1/32 trust\nhost all $user ::1/128 trust" "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

# The server answers; does it let us in? Fixed only for a local server this script started.
check_pg_login() {
  have psql || return 0
  local admin out
  admin=$(with_database "$pg_url" postgres)
  if out=$(PGCONNECT_TIMEOUT=5 psql "$admin" -Atqc 'SELECT 1' 2>&1); then return 0; fi
  if [ "$1" = started ] && is_root && [[ $out == *authentication* || $out == *pg_hba.conf* ]]; then
    if trust_loopback && PGCONNECT_TIMEOUT=5 psql "$admin" -Atqc 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
  fi
  say "warning: PostgreSQL answers but refuses $(redact "$admin"): ${out%%$'\n'*}"
  say "  put a user and password it accepts in DATABASE_URL (tests: TEST_DATABASE_ADMIN_URL)"
}

ensure_postgres() {
  parse_host_port "$pg_url" 5432
  pg_host=$url_host pg_port=$url_port
  if pg_answers; then
    say "PostgreSQL answers at $pg_host:$pg_port"
    check_pg_login running
    return
  fi
  is_local_host "$pg_host" || die "PostgreSQL does not answer at $pg_host:$pg_port ($(redact "$pg_url")): start it there, or set DATABASE_URL to a server that runs."
  if ! pg_server_installed; then
    if can_apt; then
      apt_install postgresql || die "could not install PostgreSQL with apt-get"
    else
      die "PostgreSQL is not installed. Install PostgreSQL 15 or newer and run this again, e.g. 'sudo apt-get install -y postgresql' (Debian, Ubuntu) or 'brew install postgresql@16 && brew services start postgresql@16' (macOS); or set DATABASE_URL to a server that runs."
    fi
  fi
  pg_answers || start_postgres # apt-get may have started it already
  wait_for pg_answers || die "PostgreSQL did not answer at $pg_host:$pg_port within ${WAIT_SECONDS}s; see /var/log/postgresql/"
  say "PostgreSQL started, answers at $pg_host:$pg_port"
  check_pg_login started
}

create_database() {
  local url=$1 name admin exists
  case $url in postgres://* | postgresql://*) ;; *) die "--create-db needs a postgres:// URL" ;; esac
  name=$(database_of "$url")
  [[ $name =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$ ]] || die "cannot create database '$name' from $(redact "$url"): use a name of letters, digits, _ and -"
  admin=$(with_database "$url" postgres)
  if have psql; then
    exists=$(PGCONNECT_TIMEOUT=5 psql "$admin" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$name'") ||
      die "cannot connect to $(redact "$admin") to create database $name"
    if [ "$exists" = 1 ]; then
      say "database $name exists"
    else
      psql "$admin" -qc "CREATE DATABASE \"$name\"" >/dev/null || die "could not create database $name"
      say "created database $name"
    fi
  else
    # No psql here (a remote server): node_modules has the pg client.
    node -e '
      const { Client } = require("pg");
      const [admin, name] = process.argv.slice(1);
      (async () => {
        const c = new Client({ connectionString: admin });
        await c.connect();
        const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        if (!rowCount) await c.query(`CREATE DATABASE "${name}"`);
        console.log(`ensure-services: ${rowCount ? "database " + name + " exists" : "created database " + name}`);
        await c.end();
      })().catch((e) => { console.error(`ensure-services: could not create database ${name}: ${e.message}`); process.exit(1); });
    ' "$admin" "$name"
  fi
}

# --- Redis ---------------------------------------------------------------------------------------

redis_warning=
redis_answers() {
  if have redis-cli && [[ $redis_url == redis://* ]]; then
    local out
    out=$(timeout 5 redis-cli -u "$redis_url" --no-auth-warning ping 2>&1) || true
    case $out in
      *PONG*) return 0 ;;
      *NOAUTH* | *WRONGPASS* | *"invalid password"* | *"invalid username"*)
        redis_warning="Redis answers but refuses the credentials in REDIS_URL: $out"
        return 0
        ;;
      *) return 1 ;;
    esac
  fi
  tcp_open "$redis_host" "$redis_port"
}

start_redis() {
  local bind=(--bind 127.0.0.1 -::1) # "-" (optional address): Redis 7 still starts without IPv6
  [[ $(redis-server --version) =~ v=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -lt 7 ] && bind=(--bind 127.0.0.1)
  say "starting Redis on port $redis_port"
  # Started from /tmp so that a manual SAVE never drops a dump.rdb into the checkout.
  (cd "${TMPDIR:-/tmp}" && redis-server --daemonize yes "${bind[@]}" --port "$redis_port" --save "" --appendonly no) >/dev/null ||
    die "redis-server could not start"
}

ensure_redis() {
  parse_host_port "$redis_url" 6379
  redis_host=$url_host redis_port=$url_port
  if redis_answers; then
    say "Redis answers at $redis_host:$redis_port"
  else
    is_local_host "$redis_host" || die "Redis does not answer at $redis_host:$redis_port ($(redact "$redis_url")): start it there, or set REDIS_URL to a server that runs."
    if ! have redis-server; then
      if can_apt; then
        apt_install redis-server || die "could not install Redis with apt-get"
      else
        die "Redis is not installed. Install Redis 7 and run this again, e.g. 'sudo apt-get install -y redis-server' (Debian, Ubuntu) or 'brew install redis && brew services start redis' (macOS); or set REDIS_URL to a server that runs."
      fi
    fi
    redis_answers || start_redis # apt-get may have started it already
    wait_for redis_answers || die "Redis did not answer at $redis_host:$redis_port within ${WAIT_SECONDS}s"
    say "Redis started, answers at $redis_host:$redis_port"
  fi
  if [ -n "$redis_warning" ]; then say "warning: $redis_warning"; fi
}

# --- Tools the media and packaging pipeline calls ------------------------------------------------

ensure_tools() {
  local missing=() tool
  for tool in zstd ffmpeg; do have "$tool" || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$install_tools" = 1 ] && can_apt; then
      apt_install "${missing[@]}" || say "warning: could not install ${missing[*]}; media work will fail without them"
    else
      say "note: ${missing[*]} not found (media renditions and bundles need them): apt-get install -y ${missing[*]}"
    fi
  fi
  # minisign only checks bundle signatures (the packaging specs, operators checking a bundle by
  # hand); installed on its own so that a distribution without it never holds back the tools above.
  if ! have minisign; then
    if [ "$install_tools" = 1 ] && can_apt; then
      apt_install minisign || say "warning: could not install minisign; the bundle signature specs need it"
    else
      say "note: minisign not found (the bundle signature specs need it): apt-get install -y minisign"
    fi
  fi
  # Terminal sync specs and benchmarks: real download clients (curl, aria2c) and nginx (x-accel
  # hand-off, the throughput anchor). Package aria2 provides aria2c.
  local sync_missing=()
  have aria2c || sync_missing+=(aria2)
  have nginx || sync_missing+=(nginx)
  have curl || sync_missing+=(curl)
  if [ ${#sync_missing[@]} -gt 0 ]; then
    if [ "$install_tools" = 1 ] && can_apt; then
      apt_install "${sync_missing[@]}" || say "warning: could not install ${sync_missing[*]}; the sync specs need them"
    else
      say "note: ${sync_missing[*]} not found (the sync specs need them): apt-get install -y ${sync_missing[*]}"
    fi
  fi
  # Debian's chromium drives the dashboard's browser test (playwright-core, no downloaded browser).
  if ! have chromium; then
    if [ "$install_tools" = 1 ] && can_apt; then
      apt_install chromium || say "warning: could not install chromium; the dashboard browser test needs it"
    else
      say "note: chromium not found (the dashboard browser test needs it): apt-get install -y chromium"
    fi
  fi
}

ensure_postgres
ensure_redis
if [ -n "$create_db_url" ]; then create_database "$create_db_url"; fi
ensure_tools
