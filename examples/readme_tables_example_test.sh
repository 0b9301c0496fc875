#!/usr/bin/env bash
# The ```cpp block after the "## Tables and transactions" heading of README.md must be
# examples/tables.cc, byte for byte.
set -euo pipefail
readme="README.md"
example="examples/tables.cc"
block=$(awk '/^## Tables and transactions$/ {section = 1; next}
             section && /^```cpp$/ {inside = 1; next}
             inside && /^```$/ {exit}
             inside {print}' "$readme")
if [[ "$block" != "$(cat "$example")" ]]; then
  echo "README.md's Tables and transactions example differs from $example:" >&2
  diff <(echo "$block") "$example" >&2 || true
  exit 1
fi
echo "README tables example matches $example"
