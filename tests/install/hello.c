/* Built against an installed tokenforge through pkg-config by `make test`. */
#include <stdio.h>
#include <string.h>

#include <tokenforge.h>

int main(void) {
  tokenforge_token *t = tokenforge_token_new("installed", NULL, TOKENFORGE_NO_EXPIRY, NULL);
  int ok = t != NULL && strcmp(tokenforge_token_authorization(t), "Bearer installed") == 0 &&
           strcmp(tokenforge_version(), TOKENFORGE_VERSION) == 0;
  printf("pkg-config build: tokenforge %s, %s\n", tokenforge_version(), ok ? "works" : "BROKEN");
  tokenforge_token_free(t);
  return ok ? 0 : 1;
}
