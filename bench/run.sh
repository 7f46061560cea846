#!/usr/bin/env bash
# bench/run.sh (make bench): the load test of issue 5, over loopback only.
#
# Starts four processes of bench/loadapp on 127.0.0.1 (a bare Fiber app, the
# example app's /user behind fiberlogto on memory storage, the same on SQLite
# with 1,000 and with 100,000 stored sessions), each signed in once against
# its in-process Logto-compatible provider, then loads each configuration
# with wrk in alternating order (round 1 in table order, round 2 reversed,
# ...) and prints for each configuration the medians over the rounds of
# requests/s, p50 and p99, and of its ratios to the same round's bare run.
# Then the process memory (VmRSS, VmHWM) and the database sizes. Installs
# wrk from Debian's packages when it is missing.
#
# Knobs (environment): ROUNDS (5), DURATION (3, seconds per run), WARMUP (1,
# seconds per configuration before round 1), THREADS (1), CONNS (32),
# SESSIONS_SMALL (1000), SESSIONS_BIG (100000), GO (go), DISTURBED (10: a
# run during which other processes took more than this % of the machine's
# CPU is left out of the medians when the configuration has undisturbed
# rounds), QUIET_WAIT (15: seconds to wait at most for a quiet second before
# the first round, a third of it before the others). With the defaults the
# whole run takes about two minutes once the Go build cache is warm.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-1}
CONNS=${CONNS:-32}
SESSIONS_SMALL=${SESSIONS_SMALL:-1000}
SESSIONS_BIG=${SESSIONS_BIG:-100000}
GO=${GO:-go}
DISTURBED=${DISTURBED:-10}
QUIET_WAIT=${QUIET_WAIT:-15}
LUA=bench/wrk.lua

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk is missing: installing Debian's package" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fiberlogto-bench.XXXXXX")
declare -A PID URL COOKIE
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
}

wait_ready() { # name
  local name=$1 line deadline=$((SECONDS + 120))
  until line=$(grep -m1 '^READY ' "$WORK/$name.out" 2>/dev/null); do
    if ! kill -0 "${PID[$name]}" 2>/dev/null; then
      echo "loadapp $name died:" >&2
      cat "$WORK/$name.err" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "loadapp $name not ready after 120 s" >&2
      exit 1
    fi
    sleep 0.2
  done
  URL[$name]=$(sed -n 's/.* url=\([^ ]*\).*/\1/p' <<<"$line")
  COOKIE[$name]=$(sed -n 's/.* cookie=\([^ ]*\).*/\1/p' <<<"$line")
  echo "  $name: $line" >&2
}

echo "starting the apps (SQLite pre-fill: $SESSIONS_SMALL and $SESSIONS_BIG sessions)" >&2
start bare -mode bare
start memory -mode memory
start sqlite1k -mode sqlite -db "$WORK/sessions-small.sqlite3" -sessions "$SESSIONS_SMALL"
start sqlite100k -mode sqlite -db "$WORK/sessions-big.sqlite3" -sessions "$SESSIONS_BIG"
for name in bare memory sqlite1k sqlite100k; do wait_ready "$name"; done

# Rows: id|app|path|signed in (sends the cookie)|label
ROWS=(
  "bare|bare|/user|no|bare Fiber, same bytes (baseline)"
  "bare-json|bare|/user-json|no|bare Fiber, c.JSON of the same context"
  "memory|memory|/user|yes|fiberlogto memory, signed in"
  "memory-anon|memory|/user|no|fiberlogto memory, anonymous"
  "sqlite|sqlite1k|/user|yes|fiberlogto SQLite, signed in ($SESSIONS_SMALL sessions)"
  "sqlite-big|sqlite100k|/user|yes|fiberlogto SQLite, signed in ($SESSIONS_BIG sessions)"
)

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4, $9 }' /proc/stat; } # busy (user nice system), steal
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }          # utime + stime

# load runs wrk on a row and prints its RESULT line plus the share of the
# machine's CPU that went to anything else than the app and wrk during the
# run (other_pct: other sessions' work, which skews the run; loopback
# softirq time is not counted) and the hypervisor's steal (steal_pct).
load() { # row, seconds
  local id app path signed label cookie=- c0 c1 a0 a1 wrk_cpu
  IFS='|' read -r id app path signed label <<<"$1"
  if [ "$signed" = yes ]; then cookie=${COOKIE[$app]}; fi
  c0=$(cpu_ticks)
  a0=$(proc_ticks "${PID[$app]}")
  TIMEFORMAT='%3U %3S'
  { time wrk -t"$THREADS" -c"$CONNS" -d"$2"s -s "$LUA" "${URL[$app]}$path" -- "$cookie" >"$WORK/wrk.out" 2>"$WORK/wrk.err"; } 2>"$WORK/wrk.time" || {
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
    printf "other_pct=%d steal_pct=%d", 100 * other / cap, 100 * (y[2] - x[2]) / cap
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
    id=${row%%|*}
    result=$(load "$row" "$DURATION") || exit 1
    echo "$id $r $result" >>"$RESULTS"
  done
done

# The signed-in sessions must have stayed signed in.
for app in memory sqlite1k sqlite100k; do
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

labels=$(printf '%s\n' "${ROWS[@]}" | awk -F'|' '{ print $1 "|" $5 }')

echo
echo "fiberlogto load test, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $($GO version | cut -d' ' -f3), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s over loopback, $ROUNDS rounds in alternating order; GET /user answers $(sed -n 's/.* body_bytes=\([0-9]*\).*/\1/p' "$WORK/memory.out") bytes of JSON signed in"
echo
awk -v labels="$labels" -v limit="$DISTURBED" -v small="$SESSIONS_SMALL" -v big="$SESSIONS_BIG" '
  function field(s, k) { if (match(s, "(^| )" k "=[0-9]+")) { s = substr(s, RSTART, RLENGTH); sub(/.*=/, "", s); return s + 0 } return 0 }
  # median of v[1..n] (the mean of the two middle values for an even n); lo, hi: the range
  function median(v, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    lo = v[1]; hi = v[n]
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  # collect fills v with metric m of id over the rounds where id (and, for a
  # ratio, base) was undisturbed, or over every round when there is none.
  function collect(id, m, base,    k, n, ok) {
    split("", v); n = 0
    for (k = 1; k <= count[id]; k++) {
      ok = oth[id, k] <= limit && (base == "" || oth[base, k] <= limit)
      if (ok) v[++n] = base == "" ? val[m, id, k] : val[m, id, k] / val[m, base, k]
    }
    if (n > 0) return n
    mark[id] = " *"
    for (k = 1; k <= count[id]; k++) v[++n] = base == "" ? val[m, id, k] : val[m, id, k] / val[m, base, k]
    return n
  }
  BEGIN {
    n = split(labels, L, "\n")
    for (i = 1; i <= n; i++) { split(L[i], p, "|"); order[i] = p[1]; label[p[1]] = p[2] }
  }
  {
    id = $1; k = ++count[id]
    val["rps", id, k] = field($0, "requests") / (field($0, "duration_us") / 1e6)
    val["p50", id, k] = field($0, "p50_us"); val["p99", id, k] = field($0, "p99_us")
    bpr[id] = field($0, "requests") ? field($0, "bytes") / field($0, "requests") : 0
    bad[id] += field($0, "errors") + field($0, "non2xx")
    oth[id, k] = field($0, "other_pct") + field($0, "steal_pct")
    all[id] = all[id] sprintf(" %6.0f (%2d%%)", val["rps", id, k], oth[id, k])
  }
  END {
    printf "| %-52s | %10s | %8s | %8s | %-18s | %-18s |\n", "configuration", "requests/s", "p50", "p99", "ratio to bare", "p99 / bare p99"
    printf "|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------------------", "-----------:", "---------:", "---------:", "--------------------", "--------------------"
    for (i = 1; i <= n; i++) {
      id = order[i]
      c = collect(id, "rps"); rps = median(v, c)
      c = collect(id, "p50"); p50 = median(v, c)
      c = collect(id, "p99"); p99 = median(v, c)
      c = collect(id, "rps", "bare"); r = median(v, c); rlo = lo; rhi = hi
      c = collect(id, "p99", "bare"); q = median(v, c); qlo = lo; qhi = hi
      ratio[id] = r
      printf "| %-52s | %10.0f | %6.2fms | %6.2fms | %5.2fx (%4.2f-%4.2f) | %5.2fx (%4.2f-%4.2f) |\n", label[id] mark[id], rps, p50 / 1000, p99 / 1000, r, rlo, rhi, q, qlo, qhi
    }
    c = collect("sqlite-big", "rps", "sqlite"); r = median(v, c)
    printf "\nSQLite with %d sessions / with %d: %.3fx requests/s (rounds: %.2f-%.2f)\n", big, small, r, lo, hi
    printf "\nrequests/s, p50 and p99 are medians over the rounds; a ratio is the median of the rounds'"'"' ratios (range in brackets),\n"
    printf "each round'"'"'s configuration against the same round'"'"'s bare run. Rounds during which other processes took more\n"
    printf "than %d%% of the CPU are left out when a configuration has others.\n", limit
    printf "\nevery round: requests/s (CPU share of other processes and steal during the run)\n"
    for (i = 1; i <= n; i++) {
      id = order[i]
      printf "  %-12s%s   %.0f B/response with headers, %d errors or non-2xx\n", id, all[id], bpr[id], bad[id]
    }
    for (i = 1; i <= n; i++) if (mark[order[i]] != "") { print "  * every round of this configuration (or of its pair with bare) was disturbed: its figures are not reliable"; break }
  }
' "$RESULTS"

echo
echo "| process | sessions stored | VmRSS | VmHWM (peak) | database (file + WAL + SHM) |"
echo "|---|---:|---:|---:|---:|"
for name in bare memory sqlite1k sqlite100k; do
  case $name in
    bare) sessions=0 db=- ;;
    memory) sessions=1 db=- ;;
    sqlite1k) sessions=$SESSIONS_SMALL db=$(mib $(($(dbsize "$WORK/sessions-small.sqlite3") / 1024))) ;;
    sqlite100k) sessions=$SESSIONS_BIG db=$(mib $(($(dbsize "$WORK/sessions-big.sqlite3") / 1024))) ;;
  esac
  echo "| $name | $sessions | $(mib "$(kib "${PID[$name]}" VmRSS)") | $(mib "$(kib "${PID[$name]}" VmHWM)") | $db |"
done
echo
echo "(whole run: $(($(date +%s) - started)) s; every loadapp process also holds its in-process provider, except bare)"
