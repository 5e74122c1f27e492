// Built against an installed tokenforge through CMake's find_package by `make test`.
#include <cstring>
#include <iostream>

#include <tokenforge.h>

int main() {
  tokenforge_token *t = tokenforge_token_new("installed", nullptr, TOKENFORGE_NO_EXPIRY, nullptr);
  bool ok = t != nullptr && std::strcmp(tokenforge_token_authorization(t), "Bearer installed") == 0;
  std::cout << "CMake build: tokenforge " << tokenforge_version() << ", " << (ok ? "works" : "BROKEN") << "\n";
  tokenforge_token_free(t);
  return ok ? 0 : 1;
}
