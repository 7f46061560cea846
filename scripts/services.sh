#!/usr/bin/env bash
# Test servers for the storage and integration tests: a real redis-server and
# a real PostgreSQL on 127.0.0.1, on free ports, with their data in one
# throwaway directory.
#
#   scripts/services.sh start [DIR]   start both (installs Debian's redis-server
#                                     and postgresql when missing, as root),
#                                     write DIR/env, print it
#   scripts/services.sh stop [DIR]    stop both, remove DIR
#   scripts/services.sh status [DIR]  exit 0 when both answer
#
# DIR defaults to $FIBERLOGTO_SERVICES_DIR, else ${TMPDIR:-/tmp}/fiberlogto-services.
# DIR/env holds KEY=VALUE lines, usable by `set -a; . DIR/env; set +a` and by
# make's `include`:
#   REDIS_URL=redis://127.0.0.1:<port>/0
#   DATABASE_URL=postgres://fiberlogto:fiberlogto@127.0.0.1:<port>/fiberlogto?sslmode=disable
# `start` on a directory whose servers still answer only prints its env;
# `stop` on a missing directory does nothing. Neither leaves a process behind.
set -euo pipefail

cmd="${1:-}"
dir="${2:-${FIBERLOGTO_SERVICES_DIR:-${TMPDIR:-/tmp}/fiberlogto-services}}"
pg_os_user=postgres # initdb and postgres refuse to run as root
pg_user=fiberlogto
pg_password=fiberlogto
pg_db=fiberlogto

log() { echo "services: $*" >&2; }
die() {
  log "$*"
  exit 1
}

pg_bin() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [ -x "$d/initdb" ] && echo "$d"
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$pg_os_user" -- "$@"
  else
    "$@" # already a non-root user that owns the data directory
  fi
}

install_missing() {
  local pkgs=()
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
  pg_bin >/dev/null || pkgs+=(postgresql)
  [ ${#pkgs[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing ${pkgs[*]}: install them (apt-get install -y ${pkgs[*]}) or run as root"
  log "installing ${pkgs[*]}"
  # Keep the packages from starting their own servers (on 6379 and 5432):
  # we start ours. Only when no policy is in place already.
  local policy=/usr/sbin/policy-rc.d added_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  local rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; } || rc=$?
  [ -n "$added_policy" ] && rm -f "$policy"
  [ $rc -eq 0 ] || die "apt-get install ${pkgs[*]} failed ($rc)"
}

# port_free: nothing accepts connections on 127.0.0.1:$1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port nothing listens on, below the kernel's ephemeral range so
# that no outgoing connection holds it either. Starting a server can still
# lose a race for it; the callers then try another.
free_port() {
  local low lo=20000 span=40000 p _
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true)
  if [ -n "$low" ] && [ "$low" -gt 11000 ]; then
    lo=10000 span=$((low - 10000))
  fi
  for _ in $(seq 1 50); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % span))
    if port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# alive PID: the process runs. A zombie counts as gone: our daemons are
# reparented to PID 1, which may reap them only a while after they exit.
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the state follows the command name in parentheses
  [ "${stat:0:1}" != Z ]
}

# wait_gone PID SECONDS: true once PID has exited.
wait_gone() {
  local _
  for _ in $(seq 1 $(($2 * 10))); do
    alive "$1" || return 0
    sleep 0.1
  done
  ! alive "$1"
}

kill_tree() { # SIGKILL a process and its children, by pid
  local pid=$1 kids
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill -KILL "$pid" 2>/dev/null || true
  for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
}

# redis_ping PORT: a Redis answers there (redis-cli alone would wait forever
# on a port that accepts and stays silent).
redis_ping() {
  timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG
}

read_pid() {
  if [ -f "$1" ]; then head -n 1 "$1" | tr -dc 0-9; fi
}

start_redis() {
  local port pid try
  mkdir -p "$dir/redis"
  for try in 1 2 3 4 5; do
    port=$(free_port)
    rm -f "$dir/redis.pid" "$dir/redis.log"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
      --dir "$dir/redis" --save "" --appendonly no >/dev/null || true
    for _ in $(seq 1 50); do
      # Lost the port to someone else: try another.
      grep -q "Address already in use" "$dir/redis.log" 2>/dev/null && break
      pid=$(read_pid "$dir/redis.pid")
      if alive "$pid" && redis_ping "$port"; then
        redis_port=$port
        return 0
      fi
      sleep 0.1
    done
    pid=$(read_pid "$dir/redis.pid")
    alive "$pid" && kill_tree "$pid"
    log "redis-server did not start on port $port (try $try)"
  done
  tail -n 20 "$dir/redis.log" >&2 || true
  die "redis-server would not start"
}

start_postgres() {
  local bin port try data="$dir/pg/data" sock="$dir/pg/sock"
  bin=$(pg_bin) || die "PostgreSQL binaries not found under /usr/lib/postgresql"
  mkdir -p "$dir/pg/sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$pg_os_user:" "$dir/pg"
    as_pg test -x "$dir/pg" ||
      die "user $pg_os_user cannot reach $dir; pass a directory every user can enter (e.g. under /tmp)"
  fi
  printf '%s\n' "$pg_password" >"$dir/pg/pwfile"
  [ "$(id -u)" -eq 0 ] && chown "$pg_os_user:" "$dir/pg/pwfile"
  as_pg "$bin/initdb" -D "$data" -U "$pg_user" --pwfile="$dir/pg/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/pg/initdb.log" 2>&1 || {
    tail -n 20 "$dir/pg/initdb.log" >&2
    die "initdb failed"
  }
  rm -f "$dir/pg/pwfile"
  for try in 1 2 3 4 5; do
    port=$(free_port)
    # Durability off: a test server, thrown away at stop.
    if as_pg "$bin/pg_ctl" -D "$data" -l "$dir/pg/postgres.log" -w -t 15 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      as_pg "$bin/createdb" -h "$sock" -p "$port" -U "$pg_user" "$pg_db" ||
        die "createdb $pg_db failed"
      pg_port=$port
      return 0
    fi
    log "postgres did not start on port $port (try $try)"
    stop_postgres_quiet
  done
  tail -n 20 "$dir/pg/postgres.log" >&2 || true
  die "postgres would not start"
}

stop_postgres_quiet() {
  local pid bin
  pid=$(read_pid "$dir/pg/data/postmaster.pid")
  alive "$pid" || return 0
  bin=$(pg_bin || true)
  if [ -n "$bin" ]; then
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 10 stop >/dev/null 2>&1 || true
  else
    kill -INT "$pid" 2>/dev/null || true
  fi
  wait_gone "$pid" 5 || kill_tree "$pid"
  wait_gone "$pid" 2 || log "postgres $pid would not die"
}

stop_redis_quiet() {
  local pid
  pid=$(read_pid "$dir/redis.pid")
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 5 || kill_tree "$pid"
  wait_gone "$pid" 2 || log "redis $pid would not die"
}

running() {
  [ -f "$dir/env" ] || return 1
  local rport pport
  rport=$(sed -n 's|^REDIS_URL=redis://127.0.0.1:\([0-9]*\)/.*|\1|p' "$dir/env")
  pport=$(sed -n 's|^DATABASE_URL=.*@127.0.0.1:\([0-9]*\)/.*|\1|p' "$dir/env")
  [ -n "$rport" ] && [ -n "$pport" ] || return 1
  redis_ping "$rport" || return 1
  local bin
  bin=$(pg_bin) || return 1
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$pport" -t 2
}

marker=.fiberlogto-services

do_stop() {
  [ -d "$dir" ] || return 0
  # Never rm -rf a directory this script did not make (say, DIR=/tmp).
  [ -e "$dir/$marker" ] || [ -z "$(ls -A "$dir")" ] ||
    die "$dir was not made by $0 (no $marker in it): not touching it"
  stop_redis_quiet
  stop_postgres_quiet
  rm -rf "$dir"
}

case "$cmd" in
start)
  t0=$EPOCHREALTIME
  if running; then
    log "already running ($dir/env)"
    cat "$dir/env"
    exit 0
  fi
  do_stop # leftovers of a crashed run
  install_missing
  mkdir -p "$dir"
  chmod 755 "$dir"
  touch "$dir/$marker"
  # Whatever stops a start half way (a failed step, ^C) leaves nothing behind.
  trap 'log "start failed; cleaning up"; do_stop' EXIT
  trap 'exit 130' INT TERM
  redis_port='' pg_port=''
  start_redis
  start_postgres
  {
    echo "REDIS_URL=redis://127.0.0.1:$redis_port/0"
    echo "DATABASE_URL=postgres://$pg_user:$pg_password@127.0.0.1:$pg_port/$pg_db?sslmode=disable"
  } >"$dir/env.tmp"
  mv "$dir/env.tmp" "$dir/env"
  trap - EXIT INT TERM
  log "started in $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s; env in $dir/env"
  cat "$dir/env"
  ;;
stop)
  do_stop
  log "stopped"
  ;;
status)
  if running; then cat "$dir/env"; else
    log "not running"
    exit 1
  fi
  ;;
*)
  echo "usage: $0 start|stop|status [DIR]" >&2
  exit 2
  ;;
esac
