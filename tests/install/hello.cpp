// Built against an installed tokenforge (C library and C++ header) through CMake's
// find_package by `make test`.
#include <iostream>

#include <tokenforge.hpp>

int main() {
  tokenforge::Token t("installed");
  bool ok = t.authorization() == "Bearer installed";
  std::cout << "CMake build: tokenforge " << tokenforge::version() << ", " << (ok ? "works" : "BROKEN") << "\n";
  return ok ? 0 : 1;
}
