#!/usr/bin/env bash
# check.sh: tokenforge's requests against real identity providers (../shared/peers): Keycloak
# 26 and panva/oidc-provider 9 on loopback. Opt-in (`make check-peers`): they download and
# start slowly, so `make test` keeps the loopback server. Prints each check and ends with a
# count; exits non-zero when one fails.
set -u
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/../.." && pwd); peers=${PEERS:-$top/../shared/peers}
build=$top/build/peers; mkdir -p "$build"
cc -std=c11 -Wall -I"$top/include" -o "$build/peer_check" "$here/peer_check.c" -L"$top/target/release" -Wl,-rpath,"$top/target/release" -ltokenforge || exit 1
cc -std=c11 -Wall -I"$top/include" -o "$build/peer_jwt" "$here/peer_jwt.c" -L"$top/target/release" -Wl,-rpath,"$top/target/release" -ltokenforge -lcrypto || exit 1
K=$("$peers/keys.sh" | sed -n 's/^PKJWT_DIR=//p')
RS_KID=$("$peers/keys.sh" | sed -n 's/^PKJWT_RSA_KID=//p'); EC_KID=$("$peers/keys.sh" | sed -n 's/^PKJWT_EC_KID=//p')
openssl req -x509 -new -key "$K/rs256.pem" -subj /CN=svc-pkjwt-rs -days 2 -out "$build/rs256-cert.pem" 2>/dev/null || exit 1
passed=0; failed=0; pids=()
run() { # label json step rounds sleep_ms [expect: yes | no] [min_refreshes]
  printf '%s' "$2" > "$build/cfg.json"
  if "$build/peer_check" "$build/cfg.json" "$3" "$4" "$5" ${7:-} > "$build/out" 2>&1; then ok=yes; else ok=no; fi
  if [ "$ok" = "${6:-yes}" ]; then passed=$((passed + 1)); echo "ok    $1"; else failed=$((failed + 1)); echo "FAIL  $1"; sed 's/^/      /' "$build/out"; fi
}
suite() { # label issuer token_url scope jwt_secret
  local L=$1 ISS=$2 TU=$3 SCOPE=$4 JWTS=$5
  cc_step() { echo "{\"steps\":[{\"name\":\"t\",\"kind\":\"client_credentials\",\"issuer\":\"$ISS\",\"client_id\":\"$1\",$2}]}"; }
  pw_step() { echo "{\"background_refresh\":false,\"steps\":[{\"name\":\"u\",\"kind\":\"body\",\"base_url\":\"$TU\",\"request_data\":{\"grant_type\":\"password\",\"username\":\"alice\",\"password\":\"alice-pw\",\"scope\":\"$SCOPE\"},\"client_id\":\"$1\",$2,\"ttl_ms\":2000,\"refresh_endpoint\":{}}]}"; }
  run "$L: discovery + private_key_jwt RS256" "$(cc_step svc-pkjwt-rs "\"client_auth\":\"private_key_jwt\",\"jwt_key\":{\"file\":\"$K/rs256.pem\",\"alg\":\"RS256\",\"kid\":\"$RS_KID\"}")" t 1 10
  run "$L: private_key_jwt RS256 with nbf, x5t and x5t#S256 (Entra ID's form)" "$(cc_step svc-pkjwt-rs "\"client_auth\":\"private_key_jwt\",\"jwt_key\":{\"file\":\"$K/rs256.pem\",\"alg\":\"RS256\",\"kid\":\"$RS_KID\",\"cert\":\"$build/rs256-cert.pem\"}")" t 1 10
  run "$L: private_key_jwt PS256" "$(cc_step svc-pkjwt-rs "\"client_auth\":\"private_key_jwt\",\"jwt_key\":{\"file\":\"$K/rs256.pem\",\"alg\":\"PS256\",\"kid\":\"$RS_KID\"}")" t 1 10
  run "$L: private_key_jwt ES256" "$(cc_step svc-pkjwt-es "\"client_auth\":\"private_key_jwt\",\"jwt_key\":{\"file\":\"$K/es256.pem\",\"alg\":\"ES256\",\"kid\":\"$EC_KID\"}")" t 1 10
  run "$L: a key registered nowhere is refused" "$(cc_step svc-pkjwt-rs "\"client_auth\":\"private_key_jwt\",\"jwt_key\":{\"file\":\"$K/wrong-rs256.pem\",\"alg\":\"RS256\"}")" t 1 10 no
  run "$L: client_secret_jwt" "$(cc_step svc-jwt "\"client_secret\":\"$JWTS\",\"client_auth\":\"client_secret_jwt\"")" t 1 10
  run "$L: password + 3 refreshes, private_key_jwt" "$(pw_step app-pkjwt "\"client_auth\":\"private_key_jwt\",\"jwt_key\":{\"file\":\"$K/rs256.pem\",\"alg\":\"RS256\",\"kid\":\"$RS_KID\"}")" u 4 1100 yes 3
  run "$L: password + 3 refreshes, client_secret_jwt" "$(pw_step app-jwt "\"client_secret\":\"$JWTS\",\"client_auth\":\"client_secret_jwt\"")" u 4 1100 yes 3
  # The Python package (from the checkout) against the same provider.
  while IFS= read -r line; do
    case $line in ok*) passed=$((passed + 1));; FAIL*) failed=$((failed + 1));; esac; echo "$line"
  done < <(PYTHONPATH="$top/bindings/python/src" TOKENFORGE_LIBRARY="$top/target/release/libtokenforge.so" \
           python3 "$here/peer_python.py" "$L" "$TU" "$SCOPE" 2>&1 || echo "FAIL  $L: python checks exited non-zero")
  if "$build/peer_jwt" "$TU" app-jwt "$JWTS" > "$build/out" 2>&1; then passed=$((passed + 1)); echo "ok    $L: client_secret_jwt built in a request hook, refreshed 3 times"; else failed=$((failed + 1)); echo "FAIL  $L: hook-built client_secret_jwt"; sed 's/^/      /' "$build/out"; fi
}
out=$("$peers/oidc-provider.sh") || { echo "oidc-provider did not start"; exit 1; }
OP=$(echo "$out" | sed -n 's/^BASE_URL=//p'); pids+=("$(echo "$out" | sed -n 's/^PID=//p')")
suite oidc-provider "$OP" "$OP/token" "openid offline_access" jwt-secret-0123456789abcdef0123456789abcdef
run "oidc-provider: client_secret_post only (app-post) + 3 refreshes" "{\"background_refresh\":false,\"steps\":[{\"name\":\"u\",\"kind\":\"body\",\"base_url\":\"$OP/token\",\"request_data\":{\"grant_type\":\"password\",\"username\":\"alice\",\"password\":\"alice-pw\",\"scope\":\"openid offline_access\"},\"client_id\":\"app-post\",\"client_secret\":\"app-secret\",\"client_auth\":\"client_secret_post\",\"ttl_ms\":2000,\"refresh_endpoint\":{}}]}" u 4 1100 yes 3
out=$("$peers/keycloak.sh") || { echo "Keycloak did not start"; kill "${pids[@]}"; exit 1; }
KC=$(echo "$out" | sed -n 's/^ISSUER=//p'); KT=$(echo "$out" | sed -n 's/^TOKEN_URL=//p'); pids+=("$(echo "$out" | sed -n 's/^PID=//p')")
suite keycloak "$KC" "$KT" openid jwt-secret-0123456789abcdef0123456789abcdef
run "keycloak: token exchange (RFC 8693) of a user token" "{\"background_refresh\":false,\"steps\":[{\"name\":\"user\",\"kind\":\"body\",\"base_url\":\"$KT\",\"request_data\":{\"grant_type\":\"password\",\"username\":\"alice\",\"password\":\"alice-pw\",\"scope\":\"openid\"},\"client_id\":\"app\",\"client_secret\":\"app-secret\"},{\"name\":\"t\",\"kind\":\"token_exchange\",\"issuer\":\"$KC\",\"depends_on\":[\"user\"],\"subject_token\":\"{{user.access_token}}\",\"requested_token_type\":\"urn:ietf:params:oauth:token-type:access_token\",\"client_id\":\"exch\",\"client_secret\":\"exch-secret\"}]}" t 1 10
kill "${pids[@]}" 2>/dev/null
echo "peers: $passed passed, $failed failed"
[ "$failed" = 0 ]
