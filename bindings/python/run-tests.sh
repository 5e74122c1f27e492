#!/usr/bin/env bash
# bindings/python/run-tests.sh: builds the tokenforge wheel from this checkout (carrying
# target/release/libtokenforge.so), installs it with pytest into a fresh virtual environment
# in a temporary directory, runs tests/ there (the fixtures start the loopback token server
# and a redis-server), and ends with one line, "python: N passed, M failed"; exits non-zero
# on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}

if [ ! -f "$root/target/release/libtokenforge.so" ] || [ ! -x "$root/target/release/tokenforge-testserver" ]; then
  (cd "$root" && cargo build --release --workspace) || { echo "python: 0 passed, 1 failed"; exit 1; }
fi
command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq redis-server; } >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "run-tests: $1" >&2; echo "python: 0 passed, 1 failed"; exit 1; }

# Build from a copy, so that the build leaves nothing in the checkout.
mkdir -p "$tmp/src"
cp -r "$here/pyproject.toml" "$here/setup.py" "$here/README.md" "$here/src" "$tmp/src/"
rm -rf "$tmp/src/src/"*.egg-info
TOKENFORGE_ROOT=$root "$python" -m pip wheel --quiet --no-deps -w "$tmp/dist" "$tmp/src" || fail "the wheel did not build"
wheel=$(ls "$tmp"/dist/tokenforge-*.whl) || fail "no wheel"
echo "run-tests: built $(basename "$wheel")"

"$python" -m venv "$tmp/venv" || fail "no venv"
"$tmp/venv/bin/python" -m pip install --quiet "$wheel" pytest mypy || fail "pip install failed"

# Tests from the checkout, the package from the venv (nothing puts src/ on sys.path).
cd "$here"
env -u TOKENFORGE_LIBRARY -u PYTHONPATH TOKENFORGE_ROOT="$root" \
  "$tmp/venv/bin/python" -m pytest -p no:cacheprovider -q tests 2>&1 | tee "$tmp/pytest.log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^=*.*[0-9]+ (passed|failed|error)' "$tmp/pytest.log" | tail -n 1)
passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
failed=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
errors=$(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
failed=$((failed + errors))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "python: $passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
