#!/usr/bin/env bash
# Totals the "SUITE: N passed, N failed" lines of a `make test` log into one last line.
# Usage: test-summary.sh LOG STATUS, where STATUS is the exit status of the suites; exits
# with it (a suite that stopped before reporting, such as a build error, counts as a failure).
set -u
log=$1 status=$2
read -r passed failed < <(grep -a -E '^[A-Za-z0-9_+./-]+: [0-9]+ passed, [0-9]+ failed$' "$log" |
  sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/' |
  awk '{p += $1; f += $2} END {print p + 0, f + 0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "make test: a step failed before it could report its tests (see above)"
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
