#!/usr/bin/env python3
"""Runs the exporter's unit tests (test_*.py here, unittest) and ends with one line 'python: N passed, N failed'
that build.ps1 -Task Test adds to its totals."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main():
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    # a skipped test is not a pass: count it as a failure so that nothing is silently not run
    failed += len(result.skipped)
    passed = result.testsRun - failed
    print(f"python: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
