#!/usr/bin/env python3
"""Counts GoogleTest cases from the test.xml files Bazel wrote for the given test targets.

usage: count_tests.py TESTLOGS_DIR FAILED_TARGETS_FILE LABEL...
Prints "PASSED FAILED". A target that failed (per Bazel) without a failing case in its XML
(a crash, a timeout) counts as one failed case.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def count_file(path):
    passed = failed = 0
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return 0, 1
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("result") == "skipped" or case.find("skipped") is not None:
            continue
        elif case.get("status", "run") == "run":
            passed += 1
    return passed, failed


def main():
    testlogs, failed_file = sys.argv[1], sys.argv[2]
    failed_targets = set()
    if os.path.exists(failed_file):
        failed_targets = {line.strip() for line in open(failed_file) if line.strip()}
    total_passed = total_failed = 0
    for label in sys.argv[3:]:
        package, _, name = label.lstrip("/").partition(":")
        target_dir = os.path.join(testlogs, package, name)
        files = glob.glob(os.path.join(target_dir, "test.xml")) + glob.glob(
            os.path.join(target_dir, "shard_*", "test.xml"))
        passed = failed = 0
        for path in files:
            p, f = count_file(path)
            passed += p
            failed += f
        if label in failed_targets and failed == 0:
            failed = 1
        total_passed += passed
        total_failed += failed
    print(total_passed, total_failed)


if __name__ == "__main__":
    main()
