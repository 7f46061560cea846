#!/usr/bin/env bash
# bench/run.sh (make bench): the load test of issues 5 and 11, over loopback only.
#
# For each Fiber major (v2, then v3: issue 11) starts five processes of
# bench/loadapp on 127.0.0.1 (a bare Fiber app, the example app's /user
# behind fiberlogto on memory storage, the same on SQLite with 1,000 and
# with 100,000 stored sessions, an API taking access tokens: issue 12),
# each signed in once against its in-process Logto-compatible provider,
# plus, on v2, the same API behind the middleware Logto's Fiber guide has
# users write (bench/guidepeer); and checks that v2 and v3 answer GET /user
# alike. Then it loads each configuration with wrk in alternating order:
# round 1 in the order of ROWS, where each v3 configuration follows its v2
# counterpart, round 2 reversed, ... so both majors see the same machine.
# It prints for each configuration the medians over the rounds of
# requests/s, p50 and p99, and of its ratios to the same round's bare run
# of the same major, with issue 11's target; then v3 against v2, and the
# process memory (VmRSS, VmHWM) and the database sizes. Installs wrk from
# Debian's packages when it is missing.
#
# Knobs (environment): ROUNDS (5), DURATION (3, seconds per run; "3s" works
# too), WARMUP (1, seconds per configuration before round 1), THREADS (1),
# CONNS (32), SESSIONS_SMALL (1000), SESSIONS_BIG (100000), FIBER ("v2 v3":
# the majors to run; "v2" alone is the run of RESULTS.md's issue 5 tables),
# GO (go), DISTURBED (10: a run during which other processes took more than
# this % of the machine's CPU is left out of the medians when the
# configuration has undisturbed rounds), QUIET_WAIT (15: seconds to wait at
# most for a quiet second before the first round, a third of it before the
# others). With the defaults the whole run takes about four minutes once
# the Go build cache is warm (two with FIBER=v2). A smoke run:
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
FIBER=${FIBER:-v2 v3}
GO=${GO:-go}
DISTURBED=${DISTURBED:-10}
QUIET_WAIT=${QUIET_WAIT:-15}
LUA=bench/wrk.lua

for m in $FIBER; do
  case $m in
    v2 | v3) ;;
    *)
      echo "FIBER: unknown major $m (v2, v3)" >&2
      exit 2
      ;;
  esac
done
# sfx is the suffix of a major's process and configuration names: none for
# v2, whose names are those of RESULTS.md, -v3 for v3.
sfx() { if [ "$1" != v2 ]; then echo "-$1"; fi; }

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

echo "starting the apps on Fiber $FIBER (SQLite pre-fill: $SESSIONS_SMALL and $SESSIONS_BIG sessions)" >&2
for m in $FIBER; do
  s=$(sfx "$m")
  start "bare$s" -fiber "$m" -mode bare
  start "memory$s" -fiber "$m" -mode memory
  start "sqlite1k$s" -fiber "$m" -mode sqlite -db "$WORK/sessions-small$s.sqlite3" -sessions "$SESSIONS_SMALL"
  start "sqlite100k$s" -fiber "$m" -mode sqlite -db "$WORK/sessions-big$s.sqlite3" -sessions "$SESSIONS_BIG"
  start "bearer$s" -fiber "$m" -mode bearer
done
if [[ " $FIBER " == *" v2 "* ]]; then start guide -fiber v2 -mode guide; fi
for name in "${APPS[@]}"; do wait_ready "$name"; done

# Rows: major|id|app|path|signed in (sends the cookie)|target (issue 11:
# the least ratio to the same major's bare Fiber, - for none)|label. Each v3
# configuration follows its v2 counterpart, so that the two run next to each
# other in every round; the v2 rows are those of RESULTS.md.
ALL_ROWS=(
  "v2|bare|bare|/user|no|-|bare Fiber, same bytes (baseline)"
  "v3|bare-v3|bare-v3|/user|no|-|bare Fiber, same bytes (baseline)"
  "v2|bare-json|bare|/user-json|no|-|bare Fiber, c.JSON of the same context"
  "v2|memory|memory|/user|yes|0.85|fiberlogto memory, signed in"
  "v3|memory-v3|memory-v3|/user|yes|0.85|fiberlogto memory, signed in"
  "v2|memory-anon|memory|/user|no|0.9|fiberlogto memory, anonymous"
  "v3|memory-anon-v3|memory-v3|/user|no|0.9|fiberlogto memory, anonymous"
  "v2|sqlite|sqlite1k|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_SMALL sessions)"
  "v3|sqlite-v3|sqlite1k-v3|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_SMALL sessions)"
  "v2|sqlite-big|sqlite100k|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_BIG sessions)"
  "v3|sqlite-big-v3|sqlite100k-v3|/user|yes|0.8|fiberlogto SQLite, signed in ($SESSIONS_BIG sessions)"
  "v2|bearer|bearer|/api/data|token|0.85|fiberlogto API, a repeated access token (issue 12)"
  "v3|bearer-v3|bearer-v3|/api/data|token|0.85|fiberlogto API, a repeated access token (issue 12)"
  "v2|guide|guide|/api/data|token|-|the guide's middleware, the same token (the peer)"
)
ROWS=()
for row in "${ALL_ROWS[@]}"; do
  if [[ " $FIBER " == *" ${row%%|*} "* ]]; then ROWS+=("$row"); fi
done

# answer prints an app's answer to GET path (with its cookie when signed
# in is yes), headers less Date, and the body with every JSON string and
# number value replaced, so that two sign-ins against two providers compare.
answer() { # app, path, signed in
  local cookie=()
  if [ "$3" = yes ]; then cookie=(-H "Cookie: ${COOKIE[$1]}"); fi
  curl -fsS -i "${cookie[@]}" "${URL[$1]}$2" | tr -d '\r' | grep -v '^Date: ' |
    sed -E 's/:"[^"]*"/:"S"/g; s/:-?[0-9][0-9.eE+-]*/:N/g'
}

# Fiber v3 must answer what v2 answers: the same headers and a body of the
# same length and shape (the values differ: two sign-ins).
SAME=()
if [[ " $FIBER " == *" v2 "* && " $FIBER " == *" v3 "* ]] && command -v curl >/dev/null 2>&1; then
  for pair in "bare|/user|no" "memory|/user|yes" "memory|/user|no" "sqlite1k|/user|yes"; do
    IFS='|' read -r app path signed <<<"$pair"
    what="GET $path on $app"
    if [ "$signed" = yes ]; then what+=", signed in"; fi
    if [ "$(answer "$app" "$path" "$signed")" = "$(answer "$app-v3" "$path" "$signed")" ]; then
      SAME+=("v2 and v3 answer $what alike (headers but Date, body shape and length)")
    else
      SAME+=("WARNING: v2 and v3 answer $what differently:")
      SAME+=("$(diff <(answer "$app" "$path" "$signed") <(answer "$app-v3" "$path" "$signed") | sed 's/^/    /')")
    fi
  done
  for line in "${SAME[@]}"; do echo "  $line" >&2; done
fi

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4, $9 }' /proc/stat; } # busy (user nice system), steal
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }          # utime + stime

# load runs wrk on a row and prints its RESULT line plus the share of the
# machine's CPU that went to anything else than the app and wrk during the
# run (other_pct: other sessions' work, which skews the run; loopback
# softirq time is not counted) and the hypervisor's steal (steal_pct).
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
for m in $FIBER; do
  bytes_signed_in+="${bytes_signed_in:+, }${BODY_BYTES[memory$(sfx "$m")]} bytes of JSON on $m"
done

echo
echo "fiberlogto load test, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $($GO version | cut -d' ' -f3), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s over loopback, $ROUNDS rounds in alternating order; GET /user signed in answers $bytes_signed_in"
echo
awk -v labels="$labels" -v majors="$FIBER" -v limit="$DISTURBED" -v small="$SESSIONS_SMALL" -v big="$SESSIONS_BIG" '
  function field(s, k) { if (match(s, "(^| )" k "=[0-9]+")) { s = substr(s, RSTART, RLENGTH); sub(/.*=/, "", s); return s + 0 } return 0 }
  # median of v[1..n] (the mean of the two middle values for an even n); lo, hi: the range
  function median(v, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    lo = v[1]; hi = v[n]
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  # collect fills v with metric m of id over the rounds where id (and, for a
  # ratio, base) was undisturbed, or over every round when there is none:
  # then it sets mark to " *" (and disturbed), which the caller clears.
  function collect(id, m, base,    k, n, ok) {
    split("", v); n = 0
    for (k = 1; k <= count[id]; k++) {
      ok = oth[id, k] <= limit && (base == "" || oth[base, k] <= limit)
      if (ok) v[++n] = base == "" ? val[m, id, k] : val[m, id, k] / val[m, base, k]
    }
    if (n > 0) return n
    mark = " *"; disturbed = 1
    for (k = 1; k <= count[id]; k++) v[++n] = base == "" ? val[m, id, k] : val[m, id, k] / val[m, base, k]
    return n
  }
  # suffix: the suffix of the names of a major (sfx in run.sh)
  function suffix(major) { return major == "v2" ? "" : "-" major }
  BEGIN {
    n = split(labels, L, "\n")
    for (i = 1; i <= n; i++) { split(L[i], p, "|"); order[i] = p[2]; major[p[2]] = p[1]; target[p[2]] = p[3]; label[p[2]] = p[4] }
    nm = split(majors, M, " ")
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
    printf "| %-5s | %-52s | %10s | %8s | %8s | %-18s | %-13s | %-18s |\n", "Fiber", "configuration", "requests/s", "p50", "p99", "ratio to bare", "target", "p99 / bare p99"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "-------", "------------------------------------------------------", "-----------:", "---------:", "---------:", "--------------------", "---------------", "--------------------"
    for (j = 1; j <= nm; j++) for (i = 1; i <= n; i++) {
      id = order[i]
      if (major[id] != M[j]) continue
      base = "bare" suffix(M[j]); mark = ""
      c = collect(id, "rps"); rps = median(v, c)
      c = collect(id, "p50"); p50 = median(v, c)
      c = collect(id, "p99"); p99 = median(v, c)
      c = collect(id, "rps", base); r = median(v, c); rlo = lo; rhi = hi
      c = collect(id, "p99", base); q = median(v, c); qlo = lo; qhi = hi
      # the verdict on the ratio as printed, so that 0.85x is never "NO" for 0.85x
      tgt = target[id] == "-" ? "-" : sprintf(">= %.2fx: %s", target[id], sprintf("%.2f", r) + 0 >= target[id] ? "yes" : "NO")
      printf "| %-5s | %-52s | %10.0f | %6.2fms | %6.2fms | %5.2fx (%4.2f-%4.2f) | %-13s | %5.2fx (%4.2f-%4.2f) |\n", M[j], label[id] mark, rps, p50 / 1000, p99 / 1000, r, rlo, rhi, tgt, q, qlo, qhi
    }
    print ""
    for (j = 1; j <= nm; j++) {
      c = collect("sqlite-big" suffix(M[j]), "rps", "sqlite" suffix(M[j])); r = median(v, c)
      printf "Fiber %s, SQLite with %d sessions / with %d: %.3fx requests/s (rounds: %.2f-%.2f)\n", M[j], big, small, r, lo, hi
    }
    if (("guide" in label) && ("bearer" in label)) {
      mark = ""
      c = collect("bearer", "rps", "guide"); r = median(v, c)
      printf "fiberlogto API against the guide'"'"'s middleware, a repeated token: %.1fx requests/s (rounds: %.1f-%.1f; target: >= 20x)%s\n", r, lo, hi, mark
    }
    if (nm > 1) {
      printf "\nFiber v3 against v2, same configuration, same round (median of the rounds'"'"' ratios, range in brackets):\n"
      for (i = 1; i <= n; i++) {
        id = order[i]; v2 = id; sub(/-v3$/, "", v2)
        if (major[id] != "v3" || !(v2 in label)) continue
        mark = ""
        c = collect(id, "rps", v2); r = median(v, c); rlo = lo; rhi = hi
        c = collect(id, "p99", v2); q = median(v, c)
        printf "  %-52s requests/s %5.2fx (%4.2f-%4.2f), p99 %5.2fx (%4.2f-%4.2f)\n", label[id] mark, r, rlo, rhi, q, lo, hi
      }
    }
    printf "\nrequests/s, p50 and p99 are medians over the rounds; a ratio is the median of the rounds'"'"' ratios (range in brackets),\n"
    printf "each round'"'"'s configuration against the same round'"'"'s bare run of the same Fiber major. target: issue 11'"'"'s least\n"
    printf "ratio to bare. Rounds during which other processes took more than %d%% of the CPU are left out when a\n", limit
    printf "configuration has others.\n"
    printf "\nevery round: requests/s (CPU share of other processes and steal during the run)\n"
    for (i = 1; i <= n; i++) {
      id = order[i]
      printf "  %-15s%s   %.0f B/response with headers, %d errors or non-2xx\n", id, all[id], bpr[id], bad[id]
    }
    if (disturbed) printf "  * every round of this configuration (or of its pair with bare%s) was disturbed: its figures are not reliable\n", (nm > 1 ? ", or with v2" : "")
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
  if [[ $name == *-v3 ]]; then s=-v3; fi
  case $name in
    bare* | bearer* | guide) sessions=0 db=- ;;
    memory*) sessions=1 db=- ;;
    sqlite1k*) sessions=$SESSIONS_SMALL db=$(mib $(($(dbsize "$WORK/sessions-small$s.sqlite3") / 1024))) ;;
    sqlite100k*) sessions=$SESSIONS_BIG db=$(mib $(($(dbsize "$WORK/sessions-big$s.sqlite3") / 1024))) ;;
  esac
  echo "| $name | $sessions | $(mib "$(kib "${PID[$name]}" VmRSS)") | $(mib "$(kib "${PID[$name]}" VmHWM)") | $db |"
done
echo
echo "(whole run: $(($(date +%s) - started)) s; every loadapp process also holds its in-process provider, except bare)"
