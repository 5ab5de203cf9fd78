// `sazesh serve`: the engine as a multi-user HTTP/1.1 service (Boost.Beast on Asio).
//
// One process holds the engine, the projections (brought up after every write, so a client
// reads what it wrote) and the scheduler (deadlines and seal policy on a timer). Every command
// and query the CLI offers over HTTP (command_spec::over_http) is an endpoint:
//
//   POST /v1/NAME   a write; the body is a JSON object of its options, e.g.
//                   {"case": "C-…", "text": "…"}; Idempotency-Key is its command id
//   GET  /v1/NAME   a read; its options as the query string, e.g. /v1/show?case=C-…
//
// answering with the JSON the CLI prints with --json, or an RFC 9457 problem (field and rule
// as the CLI words them). The actor is the credential's (Authorization: Bearer sz_…; see
// engine/record/credential.h), never a claim, and time is the server's clock. Only
// register-consumer may come without a credential: it answers with the new consumer's own.
// Also: /healthz, /readyz, /metrics (Prometheus text), /openapi.json.
//
// Connections are coroutines on one I/O thread; a request's work (deciding, waiting for the
// log) runs on a pool of workers, so idle connections hold no thread. Limits: header and body
// size, the time to read one request, and an idle keep-alive timeout. SIGTERM or SIGINT stops
// accepting, lets requests in flight finish, and exits.
#pragma once

#include <chrono>
#include <filesystem>
#include <cstddef>
#include <string>

#include "cli/app.h"

namespace sazesh::serve {

struct serve_options {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;  // 0: any free port
  std::size_t workers = 32;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 256 * 1024;
  std::chrono::milliseconds request_timeout{10'000};  // to read one request, header and body
  std::chrono::milliseconds idle_timeout{60'000};     // a keep-alive connection with nothing to say
  std::chrono::milliseconds upload_timeout{120'000};  // to send one document (at most 20 MiB)
  std::chrono::milliseconds tick_interval{60'000};    // the scheduler's period; 0: no scheduler
  std::chrono::milliseconds checkpoint_interval{10'000};  // how often the log's growth is signed
  std::filesystem::path portal_dir;                   // the portal's files (served at / and /assets/)
};

// The `serve` command of the CLI.
cli::command_spec serve_command();

// Runs the service on the engine `base` opens (its folder, log and rules) until SIGTERM or
// SIGINT. Prints "listening on http://HOST:PORT" to base.out once it accepts.
int run_server(cli::session& base, const serve_options& options);

}  // namespace sazesh::serve
