// clang-format off
#include <utility>  // before Asio: its coroutine support needs std::exchange declared (GCC 12)
// clang-format on
#include "serve/server.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <sodium.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <mutex>
#include <sstream>
#include <thread>
#include <variant>

#include "cli/json.h"
#include "engine/domain/decide.h"
#include "engine/record/credential.h"
#include "engine/record/hash.h"
#include "projections/projector.h"
#include "engine/domain/validation.h"
#include "engine/log/document_store.h"
#include "serve/access.h"
#include "serve/body_json.h"
#include "serve/http_support.h"

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
using request = http::request<http::string_body>;

// What every request shares: the engine, the projections and how they are kept current.
class service {
 public:
  service(cli::session& base, engine& eng, event_log& log, projections::projection_store& store)
      : base_(base), eng_(eng), log_(log), store_(store), projector_(log, store) {}

  status refresh() {
    std::lock_guard lock(projector_mutex_);
    auto n = projector_.catch_up();
    if (!n) return n.error();
    return ok;
  }

  // `upload`: where the body of POST /v1/documents was written (removed once handled).
  reply handle(const request& req, const std::filesystem::path& upload) {
    if (!upload.empty()) {
      reply r = with_endpoint(store_upload(req, upload), "/v1/documents");
      std::error_code ignored;
      std::filesystem::remove(upload, ignored);
      return r;
    }
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    if (path == "/healthz") return json_reply("healthz", "{\"status\":\"ok\"}\n");
    if (path == "/readyz") return ready_ ? json_reply("readyz", "{\"status\":\"ready\"}\n")
                                         : with_endpoint(problem(503, error(errc::unavailable, "", "not ready yet")), "readyz");
    if (path == "/metrics") {
      reply r;
      r.endpoint = "metrics";
      r.content_type = "text/plain; version=0.0.4";
      r.body = metrics_.text({{"sazesh_up", 1}, {"sazesh_requests_in_flight", static_cast<double>(in_flight.load())}});
      return r;
    }
    if (path == "/openapi.json") return json_reply("openapi", openapi_document());
    if (path.rfind("/v1/documents/", 0) == 0) return with_endpoint(download(req, path.substr(14), query), "/v1/documents");
    if (path.rfind("/v1/", 0) == 0) return command(req, path.substr(4), query);
    return problem(404, error(errc::not_found, "path", fmt::format("{} is not an endpoint of this service (see /openapi.json)", path)));
  }

  void record(const reply& r, double seconds) { metrics_.record(r.endpoint, r.status, seconds); }
  // A fresh name for an upload's body, in the document store's folder.
  std::filesystem::path incoming_path() const {
    const auto dir = base_.data_dir / "documents";
    std::error_code ignored;
    std::filesystem::create_directories(dir, ignored);
    return dir / ("upload." + random_id(12));
  }
  void set_ready() { ready_ = true; }
  std::atomic<std::size_t> in_flight{0};

 private:
  static reply json_reply(std::string endpoint, std::string body) {
    reply r;
    r.endpoint = std::move(endpoint);
    r.body = std::move(body);
    return r;
  }
  static reply with_endpoint(reply r, std::string endpoint) {
    r.endpoint = std::move(endpoint);
    return r;
  }

  // The actor of a request's credential: errc::unauthorized (field Authorization) without one.
  result<actor> signed_in(const request& req) {
    const auto auth = req.find(http::field::authorization);
    if (auth == req.end())
      return error(errc::unauthorized, "Authorization", "is required: \"Bearer TOKEN\", with a token sazesh issued");
    return authenticate(std::string_view(auth->value().data(), auth->value().size()));
  }

  // The actor a bearer token names, if it is a live credential.
  result<actor> authenticate(std::string_view header) {
    const auto bad = [](const std::string& rule) { return error(errc::unauthorized, "Authorization", rule); };
    if (header.substr(0, 7) != "Bearer ") return bad("must be \"Bearer TOKEN\", with a token sazesh issued");
    auto t = parse_token(header.substr(7));
    if (!t) return bad("must be \"Bearer TOKEN\", with a token sazesh issued");
    auto found = eng_.inspect([&](const world& w) -> std::optional<credential_state> {
      const credential_state* k = w.find_credential(credential_stream(t->key_id));
      if (k == nullptr) return std::nullopt;
      return *k;
    });
    if (!found || !secret_matches(found->secret_hash, t->secret)) return bad("names no credential, or not with this secret");
    if (found->revoked) return bad("names a revoked credential");
    return actor{found->role, found->actor_id};
  }


 public:
  // GET /agencies/ID/feed: the agency itself, operators and auditors; the actor, or a problem.
  std::variant<actor, reply> authorize_feed(const request& req, const std::string& agency) {
    auto who = signed_in(req);
    if (!who) return problem(401, who.error());
    if (!((who->role == fb::Role_agency && who->id == agency) || who->role == fb::Role_operator_ || who->role == fb::Role_auditor))
      return problem(403, error(errc::unauthorized, "actor", fmt::format("only agency {} reads its feed", agency)));
    return *who;
  }

  // One page of the agency's feed from `from` (cli::agency_feed_page, on the log the service holds).
  result<cli::feed_page> feed(const std::string& agency, log_position from, const actor& who) {
    std::ostringstream out, err;
    cli::session s(out, err);
    s.data_dir = base_.data_dir;
    s.json = true;
    s.shared_engine = &eng_;
    s.shared_log = &log_;
    s.shared_refresh = [this] { return refresh(); };
    s.who = who;
    return cli::agency_feed_page(s, agency, from, 256);
  }

 private:
  // POST /v1/documents?name=invoice.pdf: a document's bytes, kept once by hash. What it answers
  // names it in a command: "document": ["invoice=sha256:HEX/invoice.pdf"], or "file" of attach.
  reply store_upload(const request& req, const std::filesystem::path& body) {
    auto who = signed_in(req);
    if (!who) return problem(401, who.error());
    const auto type_field = req.find(http::field::content_type);
    const std::string type = type_field == req.end() ? "" : std::string(type_field->value());
    static const std::set<std::string> accepted{"application/pdf", "image/jpeg", "image/png", "image/webp", "text/plain"};
    if (accepted.count(type.substr(0, type.find(';'))) == 0)
      return problem(415, error(errc::invalid_argument, "Content-Type",
                                "must be application/pdf, image/jpeg, image/png, image/webp or text/plain"));
    std::string name = "document";
    const std::string target(req.target());
    if (const auto q = target.find("?name="); q != std::string::npos) {
      bool bad = false;
      name = percent_decode(std::string_view(target).substr(q + 6), bad);
      if (bad || name.empty() || name.size() > 200 || name.find('/') != std::string::npos ||
          !check_text("name", name, 1, 200))
        return problem(400, error(errc::invalid_argument, "name",
                                  "must be a file name of 1-200 bytes, without '/' or control characters"));
    }
    document_store store(base_.data_dir / "documents");
    auto d = store.put_file(body, "body");
    if (!d) return problem(status_of(d.error()), d.error());
    reply r;
    r.status = 201;
    r.actor = fmt::format("{}:{}", role_name(who->role), who->id);
    const std::string hex = to_hex(d->sha256);
    r.body = cli::json_object()
                 .field("sha256", hex)
                 .field("size_bytes", d->size_bytes)
                 .field("name", name)
                 .field("reference", "sha256:" + hex + "/" + name)
                 .str() +
             "\n";
    return r;
  }

  // GET /v1/documents/HEX?case=C: a document of a case, to those who may read the case.
  reply download(const request& req, const std::string& hex, const std::string& query) {
    auto who = signed_in(req);
    if (!who) return problem(401, who.error());
    bool bad = false;
    const std::string case_id = query.rfind("case=", 0) == 0 ? percent_decode(query.substr(5), bad) : "";
    if (bad || case_id.empty()) return problem(400, error(errc::invalid_argument, "case", "is required: the case the document is attached to"));
    auto c = eng_.find_case(case_id);
    if (!c) return problem(status_of(c.error()), c.error());
    const auto hidden = problem(404, error(errc::not_found, "document", "no such document on case " + case_id));
    if (!*c || !may_see_case(*who, **c)) return hidden;
    const auto ref = std::find_if((*c)->documents.begin(), (*c)->documents.end(),
                                  [&](const document_ref& d) { return to_hex(d.sha256) == hex; });
    if (ref == (*c)->documents.end()) return hidden;
    document_store store(base_.data_dir / "documents");
    std::ifstream in(store.path_of(ref->sha256), std::ios::binary);
    if (!in) return problem(503, error(errc::io, "document", "the stored document cannot be read"));
    reply r;
    r.body.assign(std::istreambuf_iterator<char>(in), {});
    r.content_type = "application/octet-stream";
    std::string file_name;
    for (char ch : ref->file_name)
      if (ch != '"' && ch != '\\' && static_cast<unsigned char>(ch) >= 0x20) file_name += ch;
    r.headers.push_back({"Content-Disposition", fmt::format("attachment; filename=\"{}\"", file_name.empty() ? hex : file_name)});
    r.actor = fmt::format("{}:{}", role_name(who->role), who->id);
    return r;
  }

  reply command(const request& req, const std::string& name, const std::string& query) {
    const auto& table = cli::commands();
    auto spec = std::find_if(table.begin(), table.end(), [&](const cli::command_spec& c) {
      return c.name == name && c.over_http != cli::command_spec::http::none;
    });
    if (spec == table.end())
      return problem(404, error(errc::not_found, "path", fmt::format("/v1/{} is not an endpoint (see /openapi.json)", name)));
    reply r = run(req, *spec, query);
    r.endpoint = "/v1/" + name;
    return r;
  }

  reply run(const request& req, const cli::command_spec& spec, const std::string& query) {
    const bool post = spec.over_http == cli::command_spec::http::post;
    if ((post && req.method() != http::verb::post) || (!post && req.method() != http::verb::get)) {
      reply r = problem(405, error(errc::invalid_argument, "method", fmt::format("must be {}", post ? "POST" : "GET")));
      r.headers.push_back({"Allow", post ? "POST" : "GET"});
      return r;
    }
    // Who is asking: a credential, or nobody (only to register as a consumer).
    std::optional<actor> who;
    if (req.find(http::field::authorization) != req.end() || spec.name != "register-consumer") {
      auto a = signed_in(req);
      if (!a) return problem(401, a.error());
      who = *a;
    }

    // The options: the body's members (POST) or the query string (GET), as the CLI takes them.
    std::vector<std::string> argv;
    if (post) {
      const auto type = req.find(http::field::content_type);
      if (!req.body().empty() &&
          (type == req.end() || std::string_view(type->value().data(), type->value().size()).substr(0, 16) != "application/json"))
        return problem(415, error(errc::invalid_argument, "Content-Type", "must be application/json"));
      if (!req.body().empty()) {
        auto members = parse_body(req.body());
        if (!members) return problem(400, members.error());
        for (const auto& m : *members) {
          if (m.flag) {
            if (!m.values.empty()) argv.push_back("--" + m.name);
            continue;
          }
          for (const auto& v : m.values) {
            argv.push_back("--" + m.name);
            argv.push_back(v);
          }
        }
      }
    } else {
      std::string_view rest(query);
      while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        bool bad = false;
        const std::string key = percent_decode(pair.substr(0, eq), bad);
        const std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), bad);
        if (bad) return problem(400, error(errc::invalid_argument, "query", "has a bad %-escape"));
        argv.push_back("--" + key);
        const auto opt = std::find_if(spec.options.begin(), spec.options.end(), [&](const cli::option_spec& o) { return o.name == key; });
        const bool flag = opt != spec.options.end() && opt->value.empty();
        if (flag && value != "" && value != "true") {
          if (value == "false") argv.pop_back();
          else return problem(400, error(errc::invalid_argument, key, "is a flag: true, false or no value"));
        } else if (!flag) {
          argv.push_back(value);
        }
      }
    }
    for (std::size_t i = 0; i < argv.size(); ++i) {
      if (argv[i].rfind("--", 0) != 0) continue;
      const std::string key = argv[i].substr(2);
      const auto opt = std::find_if(spec.options.begin(), spec.options.end(), [&](const cli::option_spec& o) { return o.name == key; });
      if (opt == spec.options.end() || i + 1 >= argv.size()) continue;
      if (opt->value.find("FILE") != std::string::npos)
        return problem(400, error(errc::invalid_argument, key, "names a file, which the service does not read or write"));
      if (opt->value.find("PATH") != std::string::npos) {
        const std::string& v = argv[i + 1];
        const auto eq = opt->value.find('=') != std::string::npos ? v.find('=') : std::string::npos;
        const std::string ref = eq == std::string::npos ? v : v.substr(eq + 1);
        if (ref.rfind("sha256:", 0) != 0)
          return problem(400, error(errc::invalid_argument, key,
                                    "must name an uploaded document (sha256:HEX/NAME, as POST /v1/documents answers), "
                                    "not a file: the service reads no file a client names"));
      }
    }
    auto parsed = cli::parse_options(spec.options, argv);
    if (!parsed) return problem(400, parsed.error());

    // Reads are authorised here; writes by the domain, on the credential's actor.
    if (!post) {
      auto d = authorize_read(eng_, *who, spec.name, *parsed);
      if (d.verdict == denial::hidden) return problem(404, d.reason);
      if (d.verdict == denial::forbidden) return problem(status_of(d.reason) == 403 ? 403 : status_of(d.reason), d.reason);
      for (const auto& [k, v] : d.narrowed) parsed->add(k, v);
    }

    std::ostringstream out, err;
    cli::session s(out, err);
    s.data_dir = base_.data_dir;
    // JSON unless the client asks for text or CSV (the CLI's --server does, as it prints).
    const auto accept = req.find(http::field::accept);
    const std::string_view wants = accept == req.end() ? std::string_view() : std::string_view(accept->value().data(), accept->value().size());
    s.json = wants.find("text/plain") == std::string_view::npos && wants.find("text/csv") == std::string_view::npos;
    s.csv = wants.find("text/csv") != std::string_view::npos;
    if (const auto d = req.find("X-Digits"); d != req.end() && d->value() == "persian") s.jalali_digits = digits::persian;
    s.kafka = base_.kafka;
    s.calendar_dir = base_.calendar_dir;
    s.rules_file = base_.rules_file;
    s.thursday_off = base_.thursday_off;
    s.shared_engine = &eng_;
    s.shared_log = &log_;
    s.shared_refresh = [this] { return refresh(); };
    s.who = who.value_or(actor{fb::Role_consumer, ""});
    const auto key = req.find("Idempotency-Key");
    if (key != req.end()) {
      s.command_id = std::string(key->value().data(), key->value().size());
      if (s.command_id.empty() || s.command_id.size() > 128)
        return problem(400, error(errc::invalid_argument, "Idempotency-Key", "must be 1-128 characters"));
    } else {
      s.command_id = random_id(16);
    }
    if (const auto match = req.find(http::field::if_match); match != req.end()) {
      // An entity tag as GET gives it: the case's version, quoted (a weak tag is the same).
      std::string tag(match->value().data(), match->value().size());
      if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
      if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') tag = tag.substr(1, tag.size() - 2);
      if (!post || !parsed->has("case") || tag.empty() || tag.size() > 12 || tag.find_first_not_of("0123456789") != std::string::npos)
        return problem(400, error(errc::invalid_argument, "If-Match",
                                  "must be the ETag a read of the case gave (\"N\"), on a command on that case"));
      s.if_version = stream_version(std::stoull(tag));
    }
    const int code = spec.run(s, *parsed);
    if (code != cli::exit_ok) {
      const error e = s.last_error.value_or(error(errc::io, "", err.str()));
      if (e.code() == errc::conflict && e.field() == "If-Match") return problem(412, e);
      return problem(status_of(e), e);
    }
    reply r;
    r.actor = who ? fmt::format("{}:{}", role_name(who->role), who->id) : "";
    r.body = out.str();
    if (r.body.empty()) r.body = "{}\n";
    // Several lines (events): JSON lines.
    if (!s.json) r.content_type = s.csv ? "text/csv; charset=utf-8" : "text/plain; charset=utf-8";
    else if (r.body.find('\n') != r.body.size() - 1) r.content_type = "application/x-ndjson";
    if (spec.name == "register-consumer" && !who) return with_credential(std::move(r), s);
    // A case read or written carries its version, for If-Match on the next command.
    if (parsed->has("case")) {
      auto c = eng_.find_case(parsed->get("case"));
      if (c && *c) r.headers.push_back({"ETag", fmt::format("\"{}\"", (*c)->head.version.value())});
    }
    return r;
  }

  // A consumer who registered without a credential gets one, issued by the system.
  reply with_credential(reply r, const cli::session& s) {
    if (s.last_stream.empty() || s.last_repeated) return r;  // a repeat: its token went to the first answer
    const std::string& id = s.last_stream;
    const new_credential c = make_credential();
    auto out = eng_.execute(actor{fb::Role_system, "serve"}, s.command_id + ":credential",
                            issue_credential{c.key_id, fb::Role_consumer, id, c.secret_hash, "registration"});
    if (!out) return problem(status_of(out.error()), out.error());
    if (auto p = refresh(); !p) fmt::print(std::cerr, "warning: projections not updated: {}\n", p.error().message());
    if (s.json) {
      auto body = r.body;
      while (!body.empty() && body.back() == '\n') body.pop_back();
      if (!body.empty() && body.back() == '}') body.pop_back();
      r.body = body + ",\"credential\":" +
               cli::json_object().field("key_id", c.key_id).field("token", c.token).str() + "}\n";
    } else {
      r.body += fmt::format("credential {} for consumer:{}\n  token: {}\n"
                            "  (shown once: only its hash is kept; send it as \"Authorization: Bearer TOKEN\")\n",
                            c.key_id, id, c.token);
    }
    r.status = 201;
    r.actor = "consumer:" + id;
    return r;
  }

  cli::session& base_;
  engine& eng_;
  event_log& log_;
  projections::projection_store& store_;
  std::mutex projector_mutex_;
  projections::projector projector_;
  metrics metrics_;
  std::atomic<bool> ready_{false};
};

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
  service& svc;
  const serve_options& options;
  asio::thread_pool& pool;
  std::atomic<bool> stopping{false};
};

// GET /agencies/ID/feed: Server-Sent Events, one per event of the log that concerns the agency
// (the JSON line `subscribe` prints: the event and the dossier), with the log position as its id,
// so a client resumes with Last-Event-ID. Comments keep an idle stream alive and find clients gone.
asio::awaitable<void> agency_feed(beast::tcp_stream& stream, server_state& st, const request& req, std::string agency) {
  service* svc = &st.svc;
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
      service* svc = &st.svc;
      const request* rq = &req;
      const std::filesystem::path* body_file = &upload;
      const auto work = [svc, rq, body_file] { return svc->handle(*rq, *body_file); };
      r = co_await on_pool(st.pool, work);
      st.svc.in_flight -= 1;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    st.svc.record(r, seconds);
    const std::string request_id = random_id(8);
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
           {"workers", "N", "requests worked on at once (default 32); idle connections take none"},
           {"request-timeout", "MS", "how long a client may take to send one request (default 10000)"}},
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
  auto store = base.open_projections_writer();
  if (!store) return base.fail(store.error());
  service svc(base, **eng, log, **store);
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

  // The scheduler: deadlines and the seal policy on a timer, as the system.
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_scheduler = false;
  std::thread scheduler([&] {
    if (o.tick_interval.count() == 0) return;
    std::unique_lock lock(stop_mutex);
    while (!stop_cv.wait_for(lock, o.tick_interval, [&] { return stop_scheduler; })) {
      lock.unlock();
      auto t = (*eng)->tick();
      if (!t) fmt::print(std::cerr, "warning: tick failed: {}\n", t.error().message());
      else if (auto p = svc.refresh(); !p) fmt::print(std::cerr, "warning: projections not updated: {}\n", p.error().message());
      lock.lock();
    }
  });

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
    stop_scheduler = true;
  }
  stop_cv.notify_all();
  scheduler.join();
  std::error_code ignored;
  std::filesystem::remove(base.data_dir / "serve.url", ignored);
  fmt::print(base.out, "stopped\n");
  return cli::exit_ok;
}

}  // namespace sazesh::serve
