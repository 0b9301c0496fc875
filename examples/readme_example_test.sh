#!/usr/bin/env bash
# The first ```cpp block of README.md must be examples/quickstart.cc, byte for byte.
set -euo pipefail
readme="README.md"
example="examples/quickstart.cc"
block=$(awk '/^```cpp$/ {inside = 1; next} inside && /^```$/ {exit} inside {print}' "$readme")
if [[ "$block" != "$(cat "$example")" ]]; then
  echo "README.md's first cpp block differs from $example:" >&2
  diff <(echo "$block") "$example" >&2 || true
  exit 1
fi
echo "README example matches $example"
