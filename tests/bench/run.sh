#!/bin/sh
# make bench: compiles the bulk loader (tests/bench/load.c) against Polku's own release objects,
# then runs tests/bench/bench.py, which prints the table. Not part of make test.
# Usage: tests/bench/run.sh BUILD_DIR   (make bench builds BUILD_DIR/polku first)
# Environment: BENCH_SIZES="1000000" (sizes of the metrics databases; default "1000000 10000000"),
#   BENCH_QUICK=1 (one run of everything at 100,000 responses), BENCH_RUNS, BENCH_DURATION,
#   BENCH_METRICS_DURATION; see tests/bench/bench.py.
set -eu
build=${1:-build}
cd "$(dirname "$0")/../.."
mkdir -p "$build/bench"

objs=$(ls "$build"/rel/server/*.o | grep -v '/main\.o$')
objs="$objs $(ls "$build"/rel/api/*.o) $build/rel/build/gen/schema_sql.o"
# shellcheck disable=SC2086 # word splitting of the object list and pkg-config is intended
cc -O2 -std=c11 -D_GNU_SOURCE -Iserver -Iapi -I"$build/gen" -o "$build/bench/load.tmp" \
    tests/bench/load.c $objs $(pkg-config --cflags --libs libmicrohttpd jansson sqlite3) \
    -lpthread -lm
mv "$build/bench/load.tmp" "$build/bench/load"

# bench.py stops every server it starts (also on SIGINT/SIGTERM); make sure it gets the signal.
pid=""
trap 'if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi' INT TERM HUP
python3 tests/bench/bench.py --build "$build" &
pid=$!
rc=0
wait "$pid" || rc=$?
# wait returns early when a trapped signal arrives; wait again for the real exit status
if kill -0 "$pid" 2>/dev/null; then wait "$pid" || rc=$?; fi
exit "$rc"
