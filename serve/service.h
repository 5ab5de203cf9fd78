// What every request to `sazesh serve` shares, behind the transport (server.cc): the engine,
// the projections and how they are kept current, credentials, and the handling of each request.
#pragma once

// clang-format off
#include <utility>  // before Asio (GCC 12)
// clang-format on
#include <atomic>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>

#include "cli/app.h"
#include "projections/store.h"
#include "serve/http_support.h"

namespace sazesh::serve {

using request = boost::beast::http::request<boost::beast::http::string_body>;

class request_handler {
 public:
  virtual ~request_handler() = default;
  // Brings the projections up to the end of the log (every write does, before it answers).
  virtual status refresh() = 0;
  // One request, answered; `upload` is where the body of POST /v1/documents was written.
  virtual reply handle(const request& req, const std::filesystem::path& upload) = 0;
  // GET /agencies/ID/feed: the agency itself, operators and auditors; the actor, or a problem.
  virtual std::variant<actor, reply> authorize_feed(const request& req, const std::string& agency) = 0;
  // One page of the agency's feed from `from`.
  virtual result<cli::feed_page> feed(const std::string& agency, log_position from, const actor& who) = 0;
  // A fresh name for an upload's body, in the document store's folder.
  virtual std::filesystem::path incoming_path() const = 0;
  virtual void record(const reply& r, double seconds) = 0;
  virtual void set_ready() = 0;
  std::atomic<std::size_t> in_flight{0};
};

// The service on the engine and projections `base` opened (they must outlive it).
// `portal_dir` holds the portal's files, served at / and /assets/.
std::unique_ptr<request_handler> make_service(cli::session& base, engine& eng, event_log& log,
                                              projections::projection_store& store, std::filesystem::path portal_dir);

}  // namespace sazesh::serve
