#include <tokenforge.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

int main() {
  const char *base = std::getenv("TOKENFORGE_URL");  // set by scripts/with-server.sh
  const std::string token_url = std::string(base ? base : "https://auth.example.com") + "/oauth/token";
  try {
    auto fetcher = tokenforge::FetcherBuilder::client_credentials("api", token_url, "my-client",
                                                                  "my-client-secret", "read")
                       .set_request_hook([](const tokenforge::Context *, tokenforge::Request &req) {
                         req.set_header("X-Trace", "1");  // an exception here becomes CALLBACK
                       })
                       .build();
    tokenforge::Pipeline pipeline;
    pipeline.add(fetcher);
    tokenforge::Step api = pipeline.step("api");  // skips the name lookup on every get
    std::cout << "Authorization: " << api.get().authorization() << "\n";
  } catch (const tokenforge::Error &e) {
    std::cerr << e.what() << " (HTTP " << e.http_status().value_or(0) << ")\n";
    return 1;
  }
  return 0;
}
