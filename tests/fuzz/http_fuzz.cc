// Any bytes as requests to `sazesh serve`, parsed as the server parses them (Beast's parser with
// the server's header and body limits) and each parsed request handled by the real service on a
// data folder the main job filled (cli/demo.cc). In the bytes, @OPERATOR, @CONSUMER, @SHOP,
// @AGENCY and @AUDITOR stand for real tokens of those roles, so requests get past sign-in.
// Whatever arrives, the answer is a status the service gives (2xx, 3xx, 4xx, or 503 while it
// cannot serve), never a crash, a hang or a 500.
// clang-format off
#include <utility>  // before Asio (GCC 12)
// clang-format on
#include <stdlib.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "cli/app.h"
#include "engine/engine.h"
#include "engine/record/credential.h"
#include "serve/server.h"
#include "serve/service.h"

namespace {

namespace http = boost::beast::http;
using namespace sazesh;

// The data folder, removed when the fuzzer exits.
std::string folder_in_use;
void remove_folder() {
  std::error_code ignored;
  if (!folder_in_use.empty()) std::filesystem::remove_all(folder_in_use, ignored);
}

struct service_under_test {
  std::ostringstream out, err;
  cli::session base{out, err};
  std::unique_ptr<projections::projection_store> store;
  std::unique_ptr<serve::request_handler> svc;
  std::map<std::string, std::string> tokens;  // "@ROLE" -> "Bearer sz_…"
  serve::serve_options limits;

  service_under_test() {
    std::string folder = "/dev/shm/sazesh-fuzz-http-XXXXXX";
    if (::mkdtemp(folder.data()) == nullptr) __builtin_trap();
    folder_in_use = folder;
    std::atexit(remove_folder);
    std::ostringstream demo_out, demo_err;
    if (cli::run({"--data-dir", folder + "/data", "demo"}, demo_out, demo_err) != 0) {
      fprintf(stderr, "the main job failed: %s\n", demo_err.str().c_str());
      __builtin_trap();
    }
    base.data_dir = folder + "/data";
    auto eng = base.open_engine();
    if (!eng) __builtin_trap();
    const actor system{fb::Role_system, "fuzz"};
    // A consumer and a shop of its own, beside the main job's.
    auto me = (*eng)->execute({fb::Role_consumer, ""}, "fuzz-consumer", register_consumer{"0499370899", "09120000001", "آزمون"});
    auto mine = (*eng)->execute({fb::Role_operator_, "ops-fuzz"}, "fuzz-shop", register_business{"9001", "fuzz-shop.ir", "فروشگاه آزمون", 3});
    if (!me || !mine) {
      fprintf(stderr, "registering: %s\n", (!me ? me.error() : mine.error()).message().c_str());
      __builtin_trap();
    }
    const std::string consumer = me->stream, shop = mine->stream;
    const auto issue = [&](const char* name, fb::Role role, const std::string& id) {
      const new_credential c = make_credential();
      auto done = (*eng)->execute(system, std::string("fuzz-credential-") + name, issue_credential{c.key_id, role, id, c.secret_hash, name});
      if (!done) {
        fprintf(stderr, "issuing %s: %s\n", name, done.error().message().c_str());
        __builtin_trap();
      }
      tokens[std::string("@") + name] = c.token;
    };
    issue("OPERATOR", fb::Role_operator_, "ops-fuzz");
    issue("CONSUMER", fb::Role_consumer, consumer);
    issue("SHOP", fb::Role_business, shop);
    issue("AGENCY", fb::Role_agency, "consumer-protection");
    issue("AUDITOR", fb::Role_auditor, "audit-fuzz");
    std::uint64_t built = 0;
    auto opened = base.open_projections_writer(*base.log(), {}, built);
    if (!opened) __builtin_trap();
    store = std::move(*opened);
    svc = serve::make_service(base, **eng, *base.log(), *store, std::filesystem::path(SAZESH_PORTAL_DIR));
    if (!svc->refresh()) __builtin_trap();
    svc->set_ready();
  }

  std::string with_tokens(std::string text) const {
    for (const auto& [placeholder, token] : tokens)
      for (std::size_t at; (at = text.find(placeholder)) != std::string::npos;) text.replace(at, placeholder.size(), token);
    return text;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static service_under_test* s = new service_under_test();
  const std::string wire = s->with_tokens(std::string(reinterpret_cast<const char*>(data), size));
  boost::beast::flat_buffer buffer;
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(wire.size()), boost::asio::buffer(wire)));
  // A connection's requests one after another, as far as they parse.
  for (int n = 0; n < 8 && buffer.size() > 0; ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s->limits.max_header_bytes));
    parser.body_limit(s->limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    const std::size_t used = parser.put(buffer.data(), ec);
    if (ec || !parser.is_done()) break;
    buffer.consume(used);
    serve::request req = parser.release();
    std::filesystem::path upload;
    if (req.method() == http::verb::post && req.target().starts_with("/v1/documents")) {
      upload = s->svc->incoming_path();
      std::ofstream(upload, std::ios::binary) << req.body();
      req.body().clear();
    }
    const serve::reply r = s->svc->handle(req, upload);
    std::error_code ignored;
    if (!upload.empty()) std::filesystem::remove(upload, ignored);
    if (r.status < 200 || (r.status >= 500 && r.status != 503)) {
      fprintf(stderr, "status %u for %s %s: %s\n", r.status, std::string(req.method_string()).c_str(),
              std::string(req.target()).c_str(), r.body.c_str());
      __builtin_trap();
    }
  }
  return 0;
}
