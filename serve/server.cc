// clang-format off
#include <utility>  // before Asio: its coroutine support needs std::exchange declared (GCC 12)
// clang-format on
#include "serve/server.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <variant>

#include "cli/json.h"
#include "engine/domain/decide.h"
#include "engine/record/hash.h"
#include "projections/projector.h"
#include "engine/log/document_store.h"
#include "serve/http_support.h"
#include "serve/service.h"

// GCC 12 inlines one coroutine's frame into another's and then reports Asio's paired frame
// operator new/delete as mismatched (-Wmismatched-new-delete): the frames are allocated and freed
// by awaitable_frame_base's own pair, so the warning is a false positive for this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sazesh::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;


// Runs `f` on the worker pool and resumes the coroutine with its result on its own executor.
template <class F>
auto on_pool(asio::thread_pool& pool, F f) {
  using R = decltype(f());
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
      [&pool, f = std::move(f)](auto handler) mutable {
        asio::post(pool, [f = std::move(f), handler = std::move(handler)]() mutable {
          R r = f();
          auto ex = asio::get_associated_executor(handler);
          asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable { handler(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

struct server_state {
  request_handler& svc;
  const serve_options& options;
  asio::thread_pool& pool;
  std::atomic<bool> stopping{false};
};

// GET /agencies/ID/feed: Server-Sent Events, one per event of the log that concerns the agency
// (the JSON line `subscribe` prints: the event and the dossier), with the log position as its id,
// so a client resumes with Last-Event-ID. Comments keep an idle stream alive and find clients gone.
asio::awaitable<void> agency_feed(beast::tcp_stream& stream, server_state& st, const request& req, std::string agency) {
  request_handler* svc = &st.svc;
  const request* rq = &req;
  const std::string* ag = &agency;
  const auto check = [svc, rq, ag] { return svc->authorize_feed(*rq, *ag); };
  auto allowed = co_await on_pool(st.pool, check);
  beast::error_code ec;
  if (auto* refused = std::get_if<reply>(&allowed)) {
    http::response<http::string_body> res{static_cast<http::status>(refused->status), req.version()};
    res.set(http::field::content_type, refused->content_type);
    for (const auto& [k, v] : refused->headers) res.set(k, v);
    res.keep_alive(false);
    res.body() = refused->body;
    res.prepare_payload();
    st.svc.record(*refused, 0);
    stream.expires_after(st.options.request_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  const actor who = std::get<actor>(allowed);
  std::uint64_t from = 0;
  if (const auto last = req.find("Last-Event-ID"); last != req.end()) {
    const std::string v(last->value());
    if (!v.empty() && v.size() < 20 && v.find_first_not_of("0123456789") == std::string::npos) from = std::stoull(v) + 1;
  }
  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "sazesh");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(false);
  http::response_serializer<http::empty_body> head{res};
  stream.expires_after(st.options.request_timeout);
  co_await http::async_write_header(stream, head, asio::redirect_error(asio::use_awaitable, ec));
  reply opened;
  opened.endpoint = "/agencies/feed";
  st.svc.record(opened, 0);
  asio::steady_timer timer(stream.get_executor());
  auto quiet_since = std::chrono::steady_clock::now();
  const std::string* agp = &agency;
  const actor* whop = &who;
  while (!ec && !st.stopping) {
    const log_position at(from);
    const log_position* atp = &at;
    const auto fetch = [svc, agp, atp, whop] { return svc->feed(*agp, *atp, *whop); };
    auto page = co_await on_pool(st.pool, fetch);
    std::string frames;
    if (!page) {
      std::string body = problem(status_of(page.error()), page.error()).body;
      while (!body.empty() && body.back() == '\n') body.pop_back();
      frames = fmt::format("event: error\ndata: {}\n\n", body);
    } else {
      for (const auto& line : page->lines) {
        const auto colon = line.find(':');
        const auto comma = line.find(',');
        frames += fmt::format("id: {}\nevent: referral\ndata: {}\n\n", line.substr(colon + 1, comma - colon - 1), line);
      }
      from = page->next.value();
    }
    const auto now = std::chrono::steady_clock::now();
    if (frames.empty() && now - quiet_since > std::chrono::seconds(15)) frames = ": keep-alive\n\n";
    if (!frames.empty()) {
      quiet_since = now;
      stream.expires_after(st.options.request_timeout);
      co_await asio::async_write(stream, asio::buffer(frames), asio::redirect_error(asio::use_awaitable, ec));
      if (!page) break;
    }
    if (page && page->read == 256) continue;
    timer.expires_after(std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> connection(tcp::socket socket, server_state& st) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(st.options.max_header_bytes + st.options.max_body_bytes);
  bool first = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st.options.max_header_bytes));
    parser.body_limit(st.options.max_body_bytes);
    beast::error_code ec;
    // Waiting for the next request on a kept-alive connection is bounded by the idle timeout;
    // once it starts, the whole request must arrive within the request timeout.
    stream.expires_after(first ? st.options.request_timeout : st.options.idle_timeout);
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    std::filesystem::path upload;  // a document's body, written to disk as it arrives
    bool upload_too_big = false;
    const auto target_of = [&] {
      const auto t = parser.get().target();
      return std::string_view(t.data(), t.size()).substr(0, std::string_view(t.data(), t.size()).find('?'));
    };
    if (!ec && parser.get().method() == http::verb::post && target_of() == "/v1/documents") {
      http::request_parser<http::file_body> to_file{std::move(parser)};
      to_file.body_limit(max_document_bytes);
      upload = st.svc.incoming_path();
      to_file.get().body().open(upload.c_str(), beast::file_mode::write_new, ec);
      if (!ec && !to_file.is_done()) {
        stream.expires_after(st.options.upload_timeout);
        co_await http::async_read(stream, buffer, to_file, asio::redirect_error(asio::use_awaitable, ec));
      }
      to_file.get().body().close();
      upload_too_big = ec == http::error::body_limit;
      // The header travels on as a request with no body; the body is the file.
      auto header = to_file.release();
      parser.get().base() = header.base();
      parser.get().body().clear();
    } else if (!ec && !parser.is_done()) {
      stream.expires_after(st.options.request_timeout);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec && !upload.empty()) {
      std::error_code ignored;
      std::filesystem::remove(upload, ignored);
      upload.clear();
      if (upload_too_big) ec = http::error::body_limit;
    }
    first = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset)
      break;
    if (!ec && upload.empty() && parser.get().method() == http::verb::get) {
      const std::string target(parser.get().target());
      const std::string path = target.substr(0, target.find('?'));
      if (path.rfind("/agencies/", 0) == 0 && path.size() > 15 && path.compare(path.size() - 5, 5, "/feed") == 0) {
        const request req = parser.release();
        co_await agency_feed(stream, st, req, path.substr(10, path.size() - 15));
        break;
      }
    }
    const auto started = std::chrono::steady_clock::now();
    reply r;
    bool keep = false;
    unsigned version = 11;
    std::string method = "-", target = "-";
    if (ec) {
      if (ec == http::error::body_limit)
        r = problem(413, error(errc::invalid_argument, "body",
                               fmt::format("must be at most {} bytes", upload_too_big ? max_document_bytes : st.options.max_body_bytes)));
      else if (ec == http::error::header_limit)
        r = problem(431, error(errc::invalid_argument, "header", fmt::format("must be at most {} bytes", st.options.max_header_bytes)));
      else
        r = problem(400, error(errc::invalid_argument, "request", "is not HTTP/1.1: " + ec.message()));
    } else {
      const request req = parser.release();
      keep = req.keep_alive() && !st.stopping;
      version = req.version();
      method = std::string(req.method_string());
      target = std::string(req.target());
      st.svc.in_flight += 1;
      // Only pointers in the awaited expression: GCC 12 destroys some temporaries of a
      // co_await's full-expression twice.
      request_handler* svc = &st.svc;
      const request* rq = &req;
      const std::filesystem::path* body_file = &upload;
      const auto work = [svc, rq, body_file] { return svc->handle(*rq, *body_file); };
      r = co_await on_pool(st.pool, work);
      st.svc.in_flight -= 1;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    st.svc.record(r, seconds);
    const std::string request_id = random_hex(8);
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "sazesh");
    res.set(http::field::content_type, r.content_type);
    res.set("X-Request-Id", request_id);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep);
    res.body() = std::move(r.body);
    res.prepare_payload();
    fmt::print(std::cerr, "{}\n",
               cli::json_object()
                   .field("time", format_iso_utc(system_clock_source().now()))
                   .field("request_id", request_id)
                   .field("method", method)
                   .field("target", target.substr(0, target.find('?')))
                   .field("status", static_cast<std::uint64_t>(r.status))
                   .field("ms", static_cast<std::uint64_t>(seconds * 1000))
                   .field("actor", r.actor)
                   .str());
    stream.expires_after(st.options.request_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> listener(tcp::acceptor& acceptor, server_state& st) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (st.stopping || ec == asio::error::operation_aborted) co_return;
      continue;  // out of descriptors, say: the next accept may succeed
    }
    asio::co_spawn(acceptor.get_executor(), connection(std::move(socket), st), asio::detached);
  }
}

result<std::chrono::milliseconds> parse_ms(const std::string& field, const std::string& text, long long min) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos || std::stoll(text) < min)
    return error(errc::invalid_argument, "--" + field, fmt::format("must be a number of milliseconds from {}", min));
  return std::chrono::milliseconds(std::stoll(text));
}

int serve_cmd(cli::session& s, const cli::parsed_args& a) {
  serve_options o;
  if (a.has("listen")) {
    const std::string l = a.get("listen");
    const auto colon = l.rfind(':');
    const std::string port = colon == std::string::npos ? "" : l.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
      return s.fail(error(errc::invalid_argument, "--listen", "must be HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)"));
    o.host = l.substr(0, colon);
    o.port = static_cast<unsigned short>(std::stoi(port));
  }
  if (a.has("tick-every")) {
    auto t = parse_ms("tick-every", a.get("tick-every"), 0);
    if (!t) return s.fail(t.error());
    o.tick_interval = *t;
  }
  // On Kafka a signing also publishes the agencies' dossiers of what it covers: sooner.
  if (s.kafka) o.checkpoint_interval = std::chrono::milliseconds(1000);
  if (a.has("checkpoint-every")) {
    auto t = parse_ms("checkpoint-every", a.get("checkpoint-every"), 100);
    if (!t) return s.fail(t.error());
    o.checkpoint_interval = *t;
  }
  if (a.has("request-timeout")) {
    auto t = parse_ms("request-timeout", a.get("request-timeout"), 100);
    if (!t) return s.fail(t.error());
    o.request_timeout = *t;
  }
  if (a.has("workers")) {
    const auto& w = a.get("workers");
    if (w.empty() || w.size() > 4 || w.find_first_not_of("0123456789") != std::string::npos || std::stoi(w) < 1 ||
        std::stoi(w) > 1024)
      return s.fail(error(errc::invalid_argument, "--workers", "must be a number from 1 to 1024"));
    o.workers = static_cast<std::size_t>(std::stoi(w));
  }
  o.portal_dir = a.has("portal") ? std::filesystem::path(a.get("portal")) : std::filesystem::path(SAZESH_DEFAULT_PORTAL_DIR);
  if (std::error_code ec; a.has("portal") && !std::filesystem::is_regular_file(o.portal_dir / "index.html", ec))
    return s.fail(error(errc::invalid_argument, "--portal", fmt::format("{} holds no index.html", o.portal_dir.string())));
  if (s.fixed_now) return s.fail(error(errc::invalid_argument, "--now", "is not taken by serve: it keeps the server's clock"));
  return run_server(s, o);
}

}  // namespace

cli::command_spec serve_command() {
  return {"serve",
          "the service",
          "serve every command and query over HTTP to signed-in users (POST/GET /v1/COMMAND), with the scheduler",
          {{"listen", "HOST:PORT", "where to listen (default 127.0.0.1:8080; port 0: any free port)"},
           {"tick-every", "MS", "run the scheduler's tick this often (default 60000; 0: never)"},
           {"checkpoint-every", "MS", "sign a checkpoint of the log this often if it grew (default 10000; on Kafka 1000: the agencies' "
                                             "dossiers are published with it), and at shutdown"},
           {"workers", "N", "requests worked on at once (default 32); idle connections take none"},
           {"request-timeout", "MS", "how long a client may take to send one request (default 10000)"},
           {"portal", "DIR", "the portal's files, served at / (default: portal/ of the source tree)"}},
          serve_cmd,
          cli::uses::log | cli::uses::rules | cli::uses::clock};
}

int run_server(cli::session& base, const serve_options& o) {
  // Every connection is a descriptor: take all the process may have (idle ones cost no thread).
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  auto eng = base.open_engine();
  if (!eng) return base.fail(eng.error());
  event_log& log = *base.log();
  std::uint64_t built = 0;
  auto store = base.open_projections_writer(log, {}, built);
  if (!store) return base.fail(store.error());
  // The log's signed checkpoints: one now, then on a timer and at shutdown (on Kafka, each
  // also published on the checkpoints topic).
  base.checkpoint_or_warn();
  {
    auto cp = base.open_checkpoints();
    if (!cp) return base.fail(cp.error());
    base.shared_checkpoints = *cp;
  }
  if (auto k = base.keys(); k) base.shared_keys = *k;
  else return base.fail(k.error());
  auto handler = make_service(base, **eng, log, **store, o.portal_dir);
  request_handler& svc = *handler;
  if (auto p = svc.refresh(); !p) return base.fail(p.error());

  asio::io_context io(1);
  asio::thread_pool pool(o.workers);
  serve_options options = o;
  server_state st{svc, options, pool};
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  const auto address = asio::ip::make_address(o.host, ec);
  if (ec) return base.fail(error(errc::invalid_argument, "--listen", "must name an IP address, e.g. 127.0.0.1 or 0.0.0.0"));
  const tcp::endpoint where(address, o.port);
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return base.fail(error(errc::unavailable, "--listen", fmt::format("cannot listen on {}:{}: {}", o.host, o.port, ec.message())));
  const auto bound = acceptor.local_endpoint();
  const std::string url = fmt::format("http://{}:{}", bound.address().to_string(), bound.port());

  // Work on timers until shutdown: the scheduler (deadlines and the seal policy, as the system)
  // and the checkpointer (the log's growth signed). A period of 0: never.
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping_timers = false;
  const auto every = [&](std::chrono::milliseconds period, std::function<void()> work) {
    return std::thread([&, period, work = std::move(work)] {
      if (period.count() == 0) return;
      std::unique_lock lock(stop_mutex);
      while (!stop_cv.wait_for(lock, period, [&] { return stopping_timers; })) {
        lock.unlock();
        work();
        lock.lock();
      }
    });
  };
  std::thread scheduler = every(o.tick_interval, [&] {
    auto t = (*eng)->tick();
    if (!t) fmt::print(std::cerr, "warning: tick failed: {}\n", t.error().message());
    else if (auto p = svc.refresh(); !p) fmt::print(std::cerr, "warning: projections not updated: {}\n", p.error().message());
    if (auto swept = document_store(base.data_dir / "documents").sweep(plaintext_grace); !swept)
      fmt::print(std::cerr, "warning: {}\n", swept.error().message());
  });
  std::thread checkpointer = every(o.checkpoint_interval, [&] { base.checkpoint_or_warn(); });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int) {
    st.stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
  });
  asio::co_spawn(io, listener(acceptor, st), asio::detached);
  svc.set_ready();
  std::filesystem::create_directories(base.data_dir);
  {
    std::ofstream f(base.data_dir / "serve.url");
    f << url << "\n";
  }
  fmt::print(base.out, "listening on {}\n", url);
  base.out.flush();

  // Runs until the acceptor closes; then until the requests in flight are answered.
  std::thread io_thread([&] { io.run(); });
  while (!st.stopping) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 600 && svc.in_flight.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  io.stop();
  io_thread.join();
  pool.join();
  {
    std::lock_guard lock(stop_mutex);
    stopping_timers = true;
  }
  stop_cv.notify_all();
  scheduler.join();
  checkpointer.join();
  base.checkpoint_or_warn();  // what the last requests wrote
  std::error_code ignored;
  std::filesystem::remove(base.data_dir / "serve.url", ignored);
  fmt::print(base.out, "stopped\n");
  return cli::exit_ok;
}

}  // namespace sazesh::serve
