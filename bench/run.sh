#!/usr/bin/env bash
# bench/run.sh (make bench): the load test of issues 5, 11, 18 and 20, over
# loopback only.
#
# For each adapter (Fiber v2 and v3: issue 11; net/http, logtohttp: issue
# 18) starts five processes of bench/loadapp on 127.0.0.1 (a bare app of
# that framework, the example app's /user behind the adapter on memory
# storage, the same on SQLite with 1,000 and with 100,000 stored sessions,
# an API taking access tokens: issue 12), each signed in once against its
# in-process Logto-compatible provider, plus, on v2, the same API behind
# the middleware Logto's Fiber guide has users write (bench/guidepeer); and
# checks that every adapter answers GET /user (and /api/data) as the first
# one does. Then it loads each configuration with wrk in alternating order:
# round 1 in the order of ROWS, where each configuration's v3 and net/http
# rows follow its v2 row, round 2 reversed, ... so every adapter sees the
# same machine. It prints for each configuration the medians over the
# rounds of requests/s, p50 and p99, of its ratios to the same round's bare
# run of the same adapter (net/http against bare net/http: its own floor,
# never Fiber's), with issue 11's target, and of the server's CPU time per
# request (issue 20): the loadapp process's utime + stime (/proc/PID/stat)
# read just before and just after each wrk run, over the requests wrk
# counted, in µs, and that less the same round's bare app of the same
# adapter ("µs over bare": what the middleware costs per request). Then
# each adapter against the first one, and the process memory (VmRSS,
# VmHWM) and the database sizes. Installs wrk from Debian's packages when
# it is missing.
#
# Which figure to trust: when the requests/s ratio and the CPU per request
# disagree, trust the CPU per request (µs over bare). On this 2-core
# machine wrk takes most of one core; when the app needs less than the
# other, wrk sets the pace, both the bare app and the configuration answer
# about as fast as wrk asks, and the ratio says 1.00x whatever the
# middleware costs (and when they fight for the cores the ratio moves with
# the scheduler). The CPU the app spent per request does not depend on who
# sets the pace (to first order: at a higher rate the kernel and the Go
# runtime share a little more of their wake-ups between requests, so
# compare within a quiet round, as the medians do). The ratio is what a
# user of that machine would see; the µs over bare is what the middleware
# costs. Both are per round, against the same round's bare app, medians
# over the rounds. The clock ticks are
# coarse (getconf CLK_TCK, usually 100 a second): a 3 s run at one core
# measures to about 0.3 %; a smoke run's 1 s runs, to about 1 %.
#
# Knobs (environment): ROUNDS (5), DURATION (3, seconds per run; "3s" works
# too), WARMUP (1, seconds per configuration before round 1), THREADS (1),
# CONNS (32), SESSIONS_SMALL (1000), SESSIONS_BIG (100000), ADAPTERS ("v2
# v3 http": the adapters to run, Fiber v2, Fiber v3, net/http; the first is
# the one the others are compared with; "v2" alone is the run of
# RESULTS.md's issue 5 tables; FIBER, its name before net/http, is read when
# ADAPTERS is not set), GO (go), DISTURBED (10: a run during which other
# processes took more than this % of the machine's CPU is left out of the
# medians when the configuration has undisturbed rounds), QUIET_WAIT (15:
# seconds to wait at most for a quiet second before the first round, a
# third of it before the others). With the defaults the whole run takes
# about six minutes once the Go build cache is warm (two with ADAPTERS=v2).
# A smoke run:
#   ROUNDS=1 DURATION=1 WARMUP=1 SESSIONS_BIG=2000 QUIET_WAIT=1 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
DURATION=${DURATION%s}
WARMUP=${WARMUP:-1}
WARMUP=${WARMUP%s}
THREADS=${THREADS:-1}
CONNS=${CONNS:-32}
SESSIONS_SMALL=${SESSIONS_SMALL:-1000}
SESSIONS_BIG=${SESSIONS_BIG:-100000}
ADAPTERS=${ADAPTERS:-${FIBER:-v2 v3 http}}
read -ra ADAPTER_LIST <<<"$ADAPTERS"
GO=${GO:-go}
DISTURBED=${DISTURBED:-10}
QUIET_WAIT=${QUIET_WAIT:-15}
LUA=bench/wrk.lua

if [ "${#ADAPTER_LIST[@]}" -eq 0 ]; then
  echo "ADAPTERS: none given (v2, v3, http)" >&2
  exit 2
fi
for m in "${ADAPTER_LIST[@]}"; do
  case $m in
    v2 | v3 | http) ;;
    *)
      echo "ADAPTERS: unknown adapter $m (v2, v3, http)" >&2
      exit 2
      ;;
  esac
done
# sfx is the suffix of an adapter's process and configuration names: none
# for v2, whose names are those of RESULTS.md, -v3 for v3, -http for
# net/http.
sfx() { if [ "$1" != v2 ]; then echo "-$1"; fi; }
# has tells whether adapter $1 runs.
has() {
  local m
  for m in "${ADAPTER_LIST[@]}"; do
    if [ "$m" = "$1" ]; then return 0; fi
  done
  return 1
}

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk is missing: installing Debian's package" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fiberlogto-bench.XXXXXX")
declare -A PID URL COOKIE BODY_BYTES AUTH
APPS=() # the loadapp processes, in start order
cleanup() {
  local name i
  for name in "${!PID[@]}"; do
    kill "${PID[$name]}" 2>/dev/null || true
  done
  for name in "${!PID[@]}"; do
    for ((i = 0; i < 30; i++)); do
      kill -0 "${PID[$name]}" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "${PID[$name]}" 2>/dev/null || true
    wait "${PID[$name]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
echo "building bench/loadapp" >&2
CGO_ENABLED=1 $GO build -o "$WORK/loadapp" ./bench/loadapp

start() { # name, loadapp flags...
  local name=$1
  shift
  "$WORK/loadapp" -addr 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID[$name]=$!
  APPS+=("$name")
}

wait_ready() { # name
  local name=$1 line deadline=$((SECONDS + 300))
  until line=$(grep -m1 '^READY ' "$WORK/$name.out" 2>/dev/null); do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then
      echo "loadapp $name died:" >&2
      cat "$WORK/$name.err" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "loadapp $name not ready after 300 s" >&2
      exit 1
    fi
    sleep 0.2
  done
  URL[$name]=$(sed -n 's/.* url=\([^ ]*\).*/\1/p' <<<"$line")
  COOKIE[$name]=$(sed -n 's/.* cookie=\([^ ]*\).*/\1/p' <<<"$line")
  BODY_BYTES[$name]=$(sed -n 's/.* body_bytes=\([0-9]*\).*/\1/p' <<<"$line")
  AUTH[$name]=$(sed -n 's/.* auth=\([^ ]*\).*/\1/p' <<<"$line")
  echo "  $name: $line" >&2
}

echo "starting the apps on $ADAPTERS (SQLite pre-fill: $SESSIONS_SMALL and $SESSIONS_BIG sessions)" >&2
for m in "${ADAPTER_LIST[@]}"; do
  s=$(sfx "$m")
  start "bare$s" -adapter "$m" -mode bare
  start "memory$s" -adapter "$m" -mode memory
  start "sqlite1k$s" -adapter "$m" -mode sqlite -db "$WORK/sessions-small$s.sqlite3" -sessions "$SESSIONS_SMALL"
  start "sqlite100k$s" -adapter "$m" -mode sqlite -db "$WORK/sessions-big$s.sqlite3" -sessions "$SESSIONS_BIG"
  start "bearer$s" -adapter "$m" -mode bearer
  # Several instances' storages (issue 20), when make bench started the
  # servers (REDIS_URL, DATABASE_URL): sessions served from the
  # process-local cache the server keeps coherent.
  if [ -n "${REDIS_URL:-}" ]; then start "redis$s" -adapter "$m" -mode redis -sessions "$SESSIONS_SMALL"; fi
  if [ -n "${DATABASE_URL:-}" ]; then start "postgres$s" -adapter "$m" -mode postgres -sessions "$SESSIONS_SMALL"; fi
done
if has v2; then start guide -adapter v2 -mode guide; fi
for name in "${APPS[@]}"; do wait_ready "$name"; done

# Rows: adapter|id|app|path|signed in (yes: sends the cookie, token: the
# access token)|target (issue 11: the least ratio to the same adapter's
# bare app, - for none)|label. Each configuration's v3 and net/http rows
# follow its v2 row, so that they run next to each other in every round;
# the v2 rows are those of RESULTS.md. net/http's targets are issue 18's,
# against its own bare app: 0.7x memory, 0.65x SQLite, 0.75x a repeated
# access token.
ALL_ROWS=(
  "v2|bare|bare|/user|no|-|bare Fiber, same bytes (baseline)"
  "v3|bare-v3|bare-v3|/user|no|-|bare Fiber, same bytes (baseline)"
  "http|bare-http|bare-http|/user|no|-|bare net/http, same bytes (baseline)"
  "v2|bare-json|bare|/user-json|no|-|bare Fiber, c.JSON of the same context"
  "http|bare-json-http|bare-http|/user-json|no|-|bare net/http, encoding/json of the same context"
  "v2|memory|memory|/user|yes|0.85|fiberlogto memory, signed in"
  "v3|memory-v3|memory-v3|/user|yes|0.85|fiberlogto memory, signed in"
  "http|memory-http|memory-http|/user|yes|0.7|logtohttp memory, signed in"
  "v2|memory-anon|memory|/user|no|0.9|fiberlogto memory, anonymous"
  "v3|memory-anon-v3|memory-v3|/user|no|0.9|fiberlogto memory, anonymous"
  "http|memory-anon-http|memory-http|/user|no|0.9|logtohttp memory, anonymous"
  "v2|sqlite|sqlite1k|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_SMALL sessions)"
  "v3|sqlite-v3|sqlite1k-v3|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_SMALL sessions)"
  "http|sqlite-http|sqlite1k-http|/user|yes|0.65|logtohttp SQLite, signed in ($SESSIONS_SMALL sessions)"
  "v2|sqlite-big|sqlite100k|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_BIG sessions)"
  "v3|sqlite-big-v3|sqlite100k-v3|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_BIG sessions)"
  "http|sqlite-big-http|sqlite100k-http|/user|yes|0.65|logtohttp SQLite, signed in ($SESSIONS_BIG sessions)"
  "v2|redis|redis|/user|yes|0.8|fiberlogto Redis, signed in (issue 20: cached, coherent)"
  "v3|redis-v3|redis-v3|/user|yes|0.8|fiberlogto Redis, signed in (issue 20: cached, coherent)"
  "http|redis-http|redis-http|/user|yes|0.8|logtohttp Redis, signed in (issue 20: cached, coherent)"
  "v2|postgres|postgres|/user|yes|0.8|fiberlogto PostgreSQL, signed in (issue 20: cached, coherent)"
  "v3|postgres-v3|postgres-v3|/user|yes|0.8|fiberlogto PostgreSQL, signed in (issue 20: cached, coherent)"
  "http|postgres-http|postgres-http|/user|yes|0.8|logtohttp PostgreSQL, signed in (issue 20: cached, coherent)"
  "v2|bearer|bearer|/api/data|token|0.85|fiberlogto API, a repeated access token (issue 12)"
  "v3|bearer-v3|bearer-v3|/api/data|token|0.85|fiberlogto API, a repeated access token (issue 12)"
  "http|bearer-http|bearer-http|/api/data|token|0.75|logtohttp API, a repeated access token"
  "v2|guide|guide|/api/data|token|-|the guide's middleware, the same token (the peer)"
)
ROWS=()
for row in "${ALL_ROWS[@]}"; do
  app=$(cut -d'|' -f3 <<<"$row")
  if has "${row%%|*}" && [ -n "${PID[$app]:-}" ]; then ROWS+=("$row"); fi
done

# answer prints an app's answer to GET path (with its cookie when signed
# in is yes, its access token when token): the status line, the headers
# but Date with their names in lower case and sorted (fasthttp and
# net/http write them in different orders and cases), and the body with
# every JSON string and number value replaced, so that two sign-ins
# against two providers compare. Content-Length stays: the bodies must
# have the same length.
answer() { # app, path, signed in
  local auth=() out head body
  case $3 in
    yes) auth=(-H "Cookie: ${COOKIE[$1]}") ;;
    token) auth=(-H "Authorization: Bearer ${AUTH[$1]}") ;;
  esac
  out=$(curl -fsS -i "${auth[@]}" "${URL[$1]}$2" | tr -d '\r') || return 1
  head=${out%%$'\n\n'*}
  body=${out#*$'\n\n'}
  {
    sed -n 1p <<<"$head"
    sed 1d <<<"$head" | awk -F: -v OFS=: '{ $1 = tolower($1) } $1 != "date"' | LC_ALL=C sort
    echo
    printf '%s\n' "$body"
  } | sed -E 's/:"[^"]*"/:"S"/g; s/:-?[0-9][0-9.eE+-]*/:N/g'
}

# Every adapter must answer what the first one answers: the same status,
# the same headers but Date, a body of the same length and shape (the
# values differ: two sign-ins).
SAME=()
REF=${ADAPTER_LIST[0]}
if [ "${#ADAPTER_LIST[@]}" -gt 1 ] && command -v curl >/dev/null 2>&1; then
  for m in "${ADAPTER_LIST[@]:1}"; do
    for pair in "bare|/user|no" "memory|/user|yes" "memory|/user|no" "sqlite1k|/user|yes" "bearer|/api/data|token"; do
      IFS='|' read -r app path signed <<<"$pair"
      a=$app$(sfx "$REF") b=$app$(sfx "$m")
      what="GET $path on $app"
      case $signed in
        yes) what+=", signed in" ;;
        token) what+=", with the token" ;;
      esac
      if [ "$(answer "$a" "$path" "$signed")" = "$(answer "$b" "$path" "$signed")" ]; then
        SAME+=("$m answers $what as $REF does (status, headers but Date, body shape and length)")
      else
        SAME+=("WARNING: $REF and $m answer $what differently:")
        SAME+=("$(diff <(answer "$a" "$path" "$signed") <(answer "$b" "$path" "$signed") | sed 's/^/    /')")
      fi
    done
  done
  for line in "${SAME[@]}"; do echo "  $line" >&2; done
fi

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4, $9 }' /proc/stat; } # busy (user nice system), steal
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }          # utime + stime

# load runs wrk on a row and prints its RESULT line plus the app's own CPU
# time during the run (app_ticks: utime + stime of the loadapp process, all
# its threads, read just before and just after wrk, in clock ticks), the
# share of the machine's CPU that went to anything else than the app and
# wrk during the run (other_pct: other sessions' work, which skews the run;
# loopback softirq time is not counted) and the hypervisor's steal
# (steal_pct).
load() { # row, seconds
  local id app path signed cookie=- token=- c0 c1 a0 a1 wrk_cpu
  IFS='|' read -r _ id app path signed _ <<<"$1"
  if [ "$signed" = yes ]; then cookie=${COOKIE[$app]}; fi
  if [ "$signed" = token ]; then token=${AUTH[$app]}; fi
  c0=$(cpu_ticks)
  a0=$(proc_ticks "${PID[$app]}")
  TIMEFORMAT='%3U %3S'
  { time wrk -t"$THREADS" -c"$CONNS" -d"$2"s -s "$LUA" "${URL[$app]}$path" -- "$cookie" "$token" >"$WORK/wrk.out" 2>"$WORK/wrk.err"; } 2>"$WORK/wrk.time" || {
    echo "wrk failed on $id:" >&2
    cat "$WORK/wrk.err" >&2
    exit 1
  }
  c1=$(cpu_ticks)
  a1=$(proc_ticks "${PID[$app]}")
  wrk_cpu=$(awk -v hz="$HZ" '{ printf "%d", ($1 + $2) * hz }' "$WORK/wrk.time")
  if ! grep -q '^RESULT ' "$WORK/wrk.out"; then
    echo "wrk printed no result on $id:" >&2
    cat "$WORK/wrk.out" "$WORK/wrk.err" >&2
    exit 1
  fi
  echo "$(grep -m1 '^RESULT ' "$WORK/wrk.out") $(awk -v c0="$c0" -v c1="$c1" -v app=$((a1 - a0)) -v wrk="$wrk_cpu" -v cap=$(($2 * HZ * NCPU)) 'BEGIN {
    split(c0, x, " "); split(c1, y, " ")
    other = (y[1] - x[1]) - app - wrk; if (other < 0) other = 0
    printf "app_ticks=%d other_pct=%d steal_pct=%d", app, 100 * other / cap, 100 * (y[2] - x[2]) / cap
  }')"
}

# wait_quiet waits up to $1 seconds for a second during which other
# processes take less than DISTURBED % of the machine (the apps are idle
# then): the machine may be shared, and a run next to a build is noise.
wait_quiet() { # max seconds
  local c0 c1 pct waited=0
  while :; do
    c0=$(cpu_ticks)
    sleep 1
    c1=$(cpu_ticks)
    pct=$(awk -v a="$c0" -v b="$c1" -v cap=$((HZ * NCPU)) 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%d", 100 * ((y[1] - x[1]) + (y[2] - x[2])) / cap }')
    waited=$((waited + 1))
    if [ "$pct" -lt "$DISTURBED" ]; then return 0; fi
    if [ "$waited" -ge "$1" ]; then
      echo "  the machine is busy ($pct% CPU used by others): measuring anyway" >&2
      return 0
    fi
  done
}

wait_quiet "$QUIET_WAIT"
echo "warming up (${WARMUP} s each)" >&2
for row in "${ROWS[@]}"; do load "$row" "$WARMUP" >/dev/null; done

RESULTS=$WORK/results.txt
: >"$RESULTS"
for ((r = 1; r <= ROUNDS; r++)); do
  order=("${ROWS[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((i = ${#ROWS[@]} - 1; i >= 0; i--)); do order+=("${ROWS[$i]}"); done
  fi
  if ((r > 1)); then wait_quiet "$((QUIET_WAIT / 3))"; fi
  echo "round $r/$ROUNDS" >&2
  for row in "${order[@]}"; do
    IFS='|' read -r _ id _ <<<"$row"
    result=$(load "$row" "$DURATION") || exit 1
    echo "$id $r $result" >>"$RESULTS"
  done
done

# The signed-in sessions must have stayed signed in.
for app in "${APPS[@]}"; do
  if [[ $app == bare* || $app == bearer* || $app == guide ]]; then continue; fi
  if command -v curl >/dev/null 2>&1; then
    if ! curl -fsS -H "Cookie: ${COOKIE[$app]}" "${URL[$app]}/user" | grep -q '"isAuthenticated":true'; then
      echo "WARNING: $app is no longer signed in after the load" >&2
    fi
  fi
done

kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
dbsize() { # file -> bytes of the file, its WAL and shared memory
  local total=0 f
  for f in "$1" "$1-wal" "$1-shm"; do
    if [ -f "$f" ]; then total=$((total + $(stat -c %s "$f"))); fi
  done
  echo "$total"
}

labels=$(printf '%s\n' "${ROWS[@]}" | awk -F'|' '{ print $1 "|" $2 "|" $6 "|" $7 }')
bytes_signed_in=
for m in "${ADAPTER_LIST[@]}"; do
  bytes_signed_in+="${bytes_signed_in:+, }${BODY_BYTES[memory$(sfx "$m")]} bytes of JSON on $m"
done

echo
echo "fiberlogto load test, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $($GO version | cut -d' ' -f3), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s over loopback, $ROUNDS rounds in alternating order; GET /user signed in answers $bytes_signed_in"
echo
awk -v labels="$labels" -v majors="${ADAPTER_LIST[*]}" -v limit="$DISTURBED" -v small="$SESSIONS_SMALL" -v big="$SESSIONS_BIG" -v hz="$HZ" '
  function field(s, k) { if (match(s, "(^| )" k "=[0-9]+")) { s = substr(s, RSTART, RLENGTH); sub(/.*=/, "", s); return s + 0 } return 0 }
  # median of v[1..n] (the mean of the two middle values for an even n); lo, hi: the range
  function median(v, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    lo = v[1]; hi = v[n]
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  # one is metric m of id in round k: its value, or, with base, its ratio
  # to base'"'"'s in the same round (its difference when diff is set).
  function one(id, m, base, diff, k) {
    if (base == "") return val[m, id, k]
    if (diff) return val[m, id, k] - val[m, base, k]
    return val[m, base, k] ? val[m, id, k] / val[m, base, k] : 0
  }
  # collect fills v with one(id, m, base, diff) over the rounds where id
  # (and base) was undisturbed, or over every round when there is none:
  # then it sets mark to " *" (and disturbed), which the caller clears.
  function collect(id, m, base, diff,    k, n, ok) {
    split("", v); n = 0
    for (k = 1; k <= count[id]; k++) {
      ok = oth[id, k] <= limit && (base == "" || oth[base, k] <= limit)
      if (ok) v[++n] = one(id, m, base, diff, k)
    }
    if (n > 0) return n
    mark = " *"; disturbed = 1
    for (k = 1; k <= count[id]; k++) v[++n] = one(id, m, base, diff, k)
    return n
  }
  # suffix: the suffix of the names of an adapter (sfx in run.sh)
  function suffix(major) { return major == "v2" ? "" : "-" major }
  # name: an adapter as the text says it
  function name(major) { return major == "http" ? "net/http" : "Fiber " major }
  BEGIN {
    n = split(labels, L, "\n")
    for (i = 1; i <= n; i++) { split(L[i], p, "|"); order[i] = p[2]; major[p[2]] = p[1]; target[p[2]] = p[3]; label[p[2]] = p[4] }
    nm = split(majors, M, " ")
  }
  {
    id = $1; k = ++count[id]
    req = field($0, "requests")
    val["rps", id, k] = req / (field($0, "duration_us") / 1e6)
    val["p50", id, k] = field($0, "p50_us"); val["p99", id, k] = field($0, "p99_us")
    # the server CPU per request, in µs
    val["cpu", id, k] = req ? field($0, "app_ticks") * 1e6 / hz / req : 0
    bpr[id] = req ? field($0, "bytes") / req : 0
    bad[id] += field($0, "errors") + field($0, "non2xx")
    oth[id, k] = field($0, "other_pct") + field($0, "steal_pct")
    all[id] = all[id] sprintf(" %6.0f (%2d%%)", val["rps", id, k], oth[id, k])
    allcpu[id] = allcpu[id] sprintf(" %11.2f", val["cpu", id, k])
  }
  END {
    printf "| %-7s | %-52s | %10s | %8s | %8s | %-18s | CPU µs/req | µs over bare (rounds) | %-13s | %-18s |\n", "adapter", "configuration", "requests/s", "p50", "p99", "ratio to bare", "target", "p99 / bare p99"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "---------", "------------------------------------------------------", "-----------:", "---------:", "---------:", "--------------------", "-----------:", "------------------------", "---------------", "--------------------"
    for (j = 1; j <= nm; j++) for (i = 1; i <= n; i++) {
      id = order[i]
      if (major[id] != M[j]) continue
      base = "bare" suffix(M[j]); mark = ""
      c = collect(id, "rps"); rps = median(v, c)
      c = collect(id, "p50"); p50 = median(v, c)
      c = collect(id, "p99"); p99 = median(v, c)
      c = collect(id, "cpu"); cpu = median(v, c)
      c = collect(id, "rps", base); r = median(v, c); rlo = lo; rhi = hi
      c = collect(id, "cpu", base, 1); d = median(v, c); dlo = lo; dhi = hi
      c = collect(id, "p99", base); q = median(v, c); qlo = lo; qhi = hi
      # the verdict on the ratio as printed, so that 0.85x is never "NO" for 0.85x
      tgt = target[id] == "-" ? "-" : sprintf(">= %.2fx: %s", target[id], sprintf("%.2f", r) + 0 >= target[id] ? "yes" : "NO")
      over = sprintf("%+.2f (%+.2f %+.2f)", d, dlo, dhi)
      printf "| %-7s | %-52s | %10.0f | %6.2fms | %6.2fms | %5.2fx (%4.2f-%4.2f) | %10.2f | %22s | %-13s | %5.2fx (%4.2f-%4.2f) |\n", M[j], label[id] mark, rps, p50 / 1000, p99 / 1000, r, rlo, rhi, cpu, over, tgt, q, qlo, qhi
    }
    print ""
    for (j = 1; j <= nm; j++) {
      if (!(("sqlite-big" suffix(M[j])) in label)) continue
      c = collect("sqlite-big" suffix(M[j]), "rps", "sqlite" suffix(M[j])); r = median(v, c)
      printf "%s, SQLite with %d sessions / with %d: %.3fx requests/s (rounds: %.2f-%.2f)\n", name(M[j]), big, small, r, lo, hi
    }
    if (("guide" in label) && ("bearer" in label)) {
      mark = ""
      c = collect("bearer", "rps", "guide"); r = median(v, c)
      printf "fiberlogto API against the guide'"'"'s middleware, a repeated token: %.1fx requests/s (rounds: %.1f-%.1f; target: >= 20x)%s\n", r, lo, hi, mark
    }
    for (j = 2; j <= nm; j++) {
      printf "\n%s against %s, same configuration, same round (median of the rounds'"'"' ratios or differences, range in brackets):\n", name(M[j]), name(M[1])
      for (i = 1; i <= n; i++) {
        id = order[i]
        if (major[id] != M[j]) continue
        ref = id; if (M[j] != "v2") sub("-" M[j] "$", "", ref); ref = ref suffix(M[1])
        if (!(ref in label)) continue
        mark = ""
        c = collect(id, "rps", ref); r = median(v, c); rlo = lo; rhi = hi
        c = collect(id, "p99", ref); q = median(v, c); qlo = lo; qhi = hi
        c = collect(id, "cpu", ref, 1); d = median(v, c)
        printf "  %-52s requests/s %5.2fx (%4.2f-%4.2f), p99 %5.2fx (%4.2f-%4.2f), CPU %+6.2f µs/request (%+.2f %+.2f)\n", label[id] mark, r, rlo, rhi, q, qlo, qhi, d, lo, hi
      }
    }
    printf "\nrequests/s, p50, p99 and CPU µs/req are medians over the rounds; a ratio (or µs over bare) is the median of the rounds'"'"'\n"
    printf "ratios (differences), range in brackets, each round'"'"'s configuration against the same round'"'"'s bare run of the same\n"
    printf "adapter (net/http against bare net/http). CPU µs/req: the app process'"'"'s utime + stime during the run over the\n"
    printf "requests wrk counted (clock ticks of 1/%d s). When the ratio and the µs over bare disagree, trust the µs over bare:\n", hz
    printf "wrk may set the pace on this machine, and then the ratio hides the middleware'"'"'s cost. target: issue 11'"'"'s least\n"
    printf "ratio to bare. Rounds during which other processes took more than %d%% of the CPU are left out when a configuration\n", limit
    printf "has others.\n"
    printf "\nevery round: requests/s (CPU share of other processes and steal during the run)\n"
    for (i = 1; i <= n; i++) {
      id = order[i]
      printf "  %-17s%s   %.0f B/response with headers, %d errors or non-2xx\n", id, all[id], bpr[id], bad[id]
    }
    printf "\nevery round: server CPU µs per request\n"
    for (i = 1; i <= n; i++) printf "  %-17s%s\n", order[i], allcpu[order[i]]
    if (disturbed) printf "  * every round of this configuration (or of its pair with bare%s) was disturbed: its figures are not reliable\n", (nm > 1 ? ", or with " M[1] : "")
  }
' "$RESULTS"

if [ "${#SAME[@]}" -gt 0 ]; then
  echo
  echo "same answers:"
  for line in "${SAME[@]}"; do echo "  $line"; done
fi

echo
echo "| process | sessions stored | VmRSS | VmHWM (peak) | database (file + WAL + SHM) |"
echo "|---|---:|---:|---:|---:|"
for name in "${APPS[@]}"; do
  s=""
  case $name in
    *-v3) s=-v3 ;;
    *-http) s=-http ;;
  esac
  case $name in
    bare* | bearer* | guide) sessions=0 db=- ;;
    memory*) sessions=1 db=- ;;
    sqlite1k*) sessions=$SESSIONS_SMALL db=$(mib $(($(dbsize "$WORK/sessions-small$s.sqlite3") / 1024))) ;;
    sqlite100k*) sessions=$SESSIONS_BIG db=$(mib $(($(dbsize "$WORK/sessions-big$s.sqlite3") / 1024))) ;;
    redis* | postgres*) sessions=$SESSIONS_SMALL db="(server)" ;;
  esac
  echo "| $name | $sessions | $(mib "$(kib "${PID[$name]}" VmRSS)") | $(mib "$(kib "${PID[$name]}" VmHWM)") | $db |"
done
echo
echo "(whole run: $(($(date +%s) - started)) s; every loadapp process also holds its in-process provider, except bare: idle during the load, its CPU counts in CPU µs/req)"
