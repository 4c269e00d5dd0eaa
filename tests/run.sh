#!/bin/sh
# Runs Polku's tests and ends with one summary line: "N passed, N failed".
# Usage: tests/run.sh BUILD_DIR [unit|e2e|lint|all]
#   unit  Check suites (build/san/tests/test_*), under ASan/UBSan
#   e2e   end-to-end tests against build/polku-san on loopback (tests/e2e/run.py)
#   lint  openapi.yaml with Redocly CLI
set -u
build=${1:-build}
what=${2:-all}
passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Check gives a test 4 s unless its suite says otherwise; under ASan on a shared 2-core machine
# (CI) a long test can take twice its usual time (test_jsonw's 640k numbers: 2 s idle, 3.7 s
# with two busy processes beside it). A hang still fails, after a minute.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}

run_unit() {
    for t in "$build"/san/tests/test_*; do
        [ -x "$t" ] || continue
        echo "== unit: $(basename "$t")"
        if "$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
        cat "$log"
        # Check prints "NN%: Checks: C, Failures: F, Errors: E"
        line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
        if [ -n "$line" ]; then
            c=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
            f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
            e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
            passed=$((passed + c - f - e))
            failed=$((failed + f + e))
        else
            echo "unit: $(basename "$t") did not report (exit $rc)"
            failed=$((failed + 1))
        fi
        if [ "$rc" -ne 0 ] && [ -n "$line" ] && [ "$f" -eq 0 ] && [ "$e" -eq 0 ]; then
            echo "unit: $(basename "$t") exited $rc after its checks (sanitizer or leak?)"
            failed=$((failed + 1))
        fi
    done
}

run_e2e() {
    echo "== e2e"
    if python3 tests/e2e/run.py --binary "$build/polku-san" >"$log" 2>&1; then rc=0; else rc=$?; fi
    cat "$log"
    line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^e2e: ([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        passed=$((passed + p))
        failed=$((failed + f))
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
    else
        echo "e2e: the runner did not report (exit $rc)"
        failed=$((failed + 1))
    fi
}

run_lint() {
    echo "== lint: openapi.yaml (Redocly CLI)"
    tools="$build/tools"
    if [ ! -x "$tools/node_modules/.bin/redocly" ]; then
        mkdir -p "$tools"
        (cd "$tools" && npm install --no-audit --no-fund --silent @redocly/cli@2.77.0 >/dev/null 2>&1)
    fi
    if [ ! -x "$tools/node_modules/.bin/redocly" ]; then
        echo "lint: could not install @redocly/cli@2.77.0 with npm"
        failed=$((failed + 1))
        return
    fi
    if "$tools/node_modules/.bin/redocly" lint openapi.yaml --config tests/redocly.yaml >"$log" 2>&1; then
        passed=$((passed + 1))
        tail -n 3 "$log"
    else
        cat "$log"
        failed=$((failed + 1))
    fi
}

case "$what" in
unit) run_unit ;;
e2e) run_e2e ;;
lint) run_lint ;;
all) run_unit; run_lint; run_e2e ;;
*) echo "usage: tests/run.sh BUILD [unit|e2e|lint|all]"; exit 2 ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
