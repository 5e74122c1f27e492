/* A helper of tests/peers/check.sh. peer_jwt TOKEN_URL CLIENT_ID SECRET: a password-grant step whose request hook signs a
   client_secret_jwt assertion (HS256, RFC 7523) for every request, first fetch and refresh
   grant alike; gets it 4 times 1.1 s apart (ttl 2 s, no background refresh). */
#define _POSIX_C_SOURCE 200809L
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tokenforge.h"

static void b64url(const unsigned char *in, size_t n, char *out) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = A[v >> 18 & 63];
    out[o++] = A[v >> 12 & 63];
    if (i + 1 < n) out[o++] = A[v >> 6 & 63];
    if (i + 2 < n) out[o++] = A[v & 63];
  }
  out[o] = 0;
}

static const char *g_url, *g_id, *g_secret;
static int g_calls;

static tokenforge_result sign(void *ud, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)ud; (void)ctx;
  unsigned char rnd[16];
  RAND_bytes(rnd, sizeof rnd);
  char jti[32], header[64], payload[1024], body[2048], sig[64], assertion[2200];
  b64url(rnd, sizeof rnd, jti);
  long now = (long)time(NULL);
  b64url((const unsigned char *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, header);
  char claims[700];
  int m = snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"jti\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
                   g_id, g_id, g_url, jti, now, now + 60);
  b64url((const unsigned char *)claims, (size_t)m, payload);
  snprintf(body, sizeof body, "%s.%s", header, payload);
  unsigned char mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), g_secret, (int)strlen(g_secret), (unsigned char *)body, strlen(body), mac, &len);
  b64url(mac, len, sig);
  snprintf(assertion, sizeof assertion, "%s.%s", body, sig);
  g_calls++;
  printf("  hook: %s grant to %s\n", tokenforge_request_data(req, "grant_type"), tokenforge_request_url(req));
  tokenforge_request_set_data(req, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  return tokenforge_request_set_data(req, "client_assertion", assertion);
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  g_url = argv[1], g_id = argv[2], g_secret = argv[3];
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("user", g_url, "");
  tokenforge_fetcher_builder_add_request_data(b, "grant_type", "password");
  tokenforge_fetcher_builder_add_request_data(b, "username", "alice");
  tokenforge_fetcher_builder_add_request_data(b, "password", "alice-pw");
  tokenforge_fetcher_builder_add_request_data(b, "client_id", g_id);
  tokenforge_fetcher_builder_add_request_data(b, "scope", "openid");
  tokenforge_fetcher_builder_set_ttl_ms(b, 2000);
  tokenforge_fetcher_builder_set_refresh_endpoint(b, g_url, g_id, NULL);
  tokenforge_fetcher_builder_set_request_hook(b, sign, NULL, NULL);
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  if (tokenforge_fetcher_builder_build(b, &f, &err)) { printf("%s\n", tokenforge_error_message(err)); return 1; }
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_pipeline_add(p, f, NULL);
  tokenforge_pipeline_set_background_refresh(p, false, NULL);
  tokenforge_fetcher_free(f);
  int fails = 0;
  const char *prev = NULL;
  static char last[8192] = "";
  for (int i = 0; i < 4; i++) {
    tokenforge_token *t = NULL;
    if (tokenforge_pipeline_get(p, "user", &t, &err) == TOKENFORGE_RESULT_OK) {
      int renewed = strcmp(last, tokenforge_token_access_token(t)) != 0;
      printf("get %d: %.12s... %s\n", i, tokenforge_token_access_token(t), renewed ? "(new)" : "(same)");
      snprintf(last, sizeof last, "%s", tokenforge_token_access_token(t));
      if (i > 0 && !renewed) fails++;
      tokenforge_token_free(t);
    } else {
      printf("get %d failed: %s\n", i, tokenforge_error_message(err));
      tokenforge_error_free(err);
      fails++;
    }
    struct timespec ts = {1, 100000000L};
    nanosleep(&ts, NULL);
  }
  (void)prev;
  printf("hook ran %d times; %d problems\n", g_calls, fails);
  tokenforge_pipeline_free(p);
  return fails != 0;
}
