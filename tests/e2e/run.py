#!/usr/bin/env python3
"""Runs Polku's end-to-end tests against a real binary.

Usage (from the repository root):
    python3 tests/e2e/run.py --binary build/polku-san [-k PATTERN] [-q]

Discovers tests/e2e/test_*.py, runs them with unittest, prints the usual unittest report and
then, as its last line, exactly "e2e: N passed, M failed" (M counts failures and errors;
skipped tests are not counted as passed). Exits non-zero when M > 0.
"""

import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0
        self.started_at = {}

    def startTest(self, test):
        self.started_at[test.id()] = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--binary", default="build/polku-san", help="the polku binary to test")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only run tests whose id contains this substring (repeatable)")
    ap.add_argument("-q", "--quiet", action="store_true", help="less output")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    os.environ["POLKU_E2E_BINARY"] = binary
    sys.path.insert(0, HERE)
    if not os.access(binary, os.X_OK):
        print("e2e: binary %s not found or not executable (make build/polku-san)" % binary)
        print("e2e: 0 passed, 1 failed")
        return 1

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    suite = loader.discover(start_dir=HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1 if args.quiet else 2,
                                     resultclass=CountingResult)
    began = time.monotonic()
    result = runner.run(suite)
    sys.stderr.flush()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("e2e: took %.1f s" % (time.monotonic() - began))
    print("e2e: %d passed, %d failed" % (result.passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
