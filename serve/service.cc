// The service behind the transport: each request authenticated, authorised and run through the
// CLI's own command functions on the shared engine (serve/service.h).
#include "serve/service.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <boost/beast/http.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <set>
#include <sstream>
#include <variant>

#include "cli/json.h"
#include "engine/domain/decide.h"
#include "engine/record/credential.h"
#include "engine/record/hash.h"
#include "projections/apply.h"
#include "projections/projector.h"
#include "engine/domain/validation.h"
#include "engine/log/document_store.h"
#include "cli/access.h"
#include "serve/body_json.h"
#include "serve/http_support.h"
#include "serve/static_files.h"


namespace sazesh::serve {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// What every request shares: the engine, the projections and how they are kept current.
class service final : public request_handler {
 public:
  service(cli::session& base, engine& eng, event_log& log, projections::projection_store& store,
          std::filesystem::path portal_dir)
      : base_(base), eng_(eng), log_(log), store_(store), portal_dir_(std::move(portal_dir)), projector_(log, store) {}

  // Brings the projections up to at least where the log ended when this was called (a write
  // calls it after its events are in the log, so the queries after it see them). Requests
  // that arrive while a catch-up runs wait for it to end; the first of them then runs one
  // catch-up for them all, so concurrent writes cost one projection write between them.
  status refresh() override {
    // Nothing appended since the projections last caught up (a query between writes): nothing
    // to wait for. On one partition the log's end says so; on several, catch up.
    if (log_.partitions() == 1)
      if (auto end = log_.end(); end && end->value() <= projected_end_.load()) return ok;
    std::unique_lock lock(projector_mutex_);
    const std::uint64_t mine = ++asked_;
    while (done_ < mine) {
      if (projecting_) {
        projector_done_.wait(lock);
        continue;
      }
      // Everything appended before these requests asked is in the log now: one catch-up
      // answers them all.
      projecting_ = true;
      const std::uint64_t answering = asked_;
      lock.unlock();
      const auto end = log_.partitions() == 1 ? log_.end() : result<log_position>(log_position(0));
      auto n = projector_.catch_up();
      if (n && end) projected_end_ = std::max(projected_end_.load(), end->value());
      lock.lock();
      projecting_ = false;
      done_status_ = n ? status(ok) : status(n.error());
      done_ = answering;
      projector_done_.notify_all();
    }
    return done_status_;
  }

  // `upload`: where the body of POST /v1/documents was written (removed once handled).
  reply handle(const request& req, const std::filesystem::path& upload) override {
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
      std::vector<std::pair<std::string, double>> gauges{{"sazesh_up", 1},
                                                         {"sazesh_requests_in_flight", static_cast<double>(in_flight.load())}};
      // Where the log ends and where the projections stand, summed over partitions: the lag is
      // what the projector has still to apply.
      double log_end = 0, applied = 0;
      bool known = true;
      for (std::uint32_t p = 0; p < log_.partitions() && known; ++p) {
        auto end = log_.partition_end(p);
        auto at = projections::stored_position(store_, p);
        known = end.has_value() && at.has_value();
        if (known) {
          log_end += static_cast<double>(end->value());
          applied += static_cast<double>(at->value());
        }
      }
      if (known) {
        gauges.push_back({"sazesh_log_end_position", log_end});
        gauges.push_back({"sazesh_projections_position", applied});
        gauges.push_back({"sazesh_projector_lag_events", log_end > applied ? log_end - applied : 0});
      }
      // Cases the scheduler has still to take up (counted up to a bound: a scrape stays cheap).
      if (auto due = eng_.deadlines_due(100000)) gauges.push_back({"sazesh_deadlines_due", static_cast<double>(*due)});
      r.body = metrics_.text(gauges);
      return r;
    }
    if (path == "/openapi.json") return json_reply("openapi", openapi_document());
    if (path == "/" || path.rfind("/assets/", 0) == 0) {
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        reply r = problem(405, error(errc::invalid_argument, "method", "must be GET"));
        r.headers.push_back({"Allow", "GET"});
        return r;
      }
      reply r = static_file(portal_dir_, path == "/" ? std::string_view("index.html") : std::string_view(path).substr(8));
      if (r.content_type.rfind("text/html", 0) == 0)
        r.headers.push_back({"Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                             "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"});
      return r;
    }
    if (path == "/v1/whoami") return with_endpoint(whoami(req), "/v1/whoami");
    if (path.rfind("/v1/documents/", 0) == 0) return with_endpoint(download(req, path.substr(14), query), "/v1/documents");
    if (path.rfind("/v1/", 0) == 0) return command(req, path.substr(4), query);
    return problem(404, error(errc::not_found, "path", fmt::format("{} is not an endpoint of this service (see /openapi.json)", path)));
  }

  void record(const reply& r, double seconds) override { metrics_.record(r.endpoint, r.status, seconds); }
  // A fresh name for an upload's body, in the document store's folder.
  std::filesystem::path incoming_path() const override {
    const auto dir = base_.data_dir / "documents";
    std::error_code ignored;
    std::filesystem::create_directories(dir, ignored);
    return dir / ("upload." + random_hex(12));
  }
  void set_ready() override { ready_ = true; }

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

  // GET /v1/whoami: who the credential signs in (the portal asks, to know which pages to show).
  reply whoami(const request& req) {
    if (req.method() != http::verb::get) {
      reply r = problem(405, error(errc::invalid_argument, "method", "must be GET"));
      r.headers.push_back({"Allow", "GET"});
      return r;
    }
    auto who = signed_in(req);
    if (!who) return problem(401, who.error());
    const auto auth = req.find(http::field::authorization);
    auto t = parse_token(std::string_view(auth->value().data(), auth->value().size()).substr(7));
    reply r;
    r.actor = fmt::format("{}:{}", role_name(who->role), who->id);
    r.body = cli::json_object()
                 .field("role", role_name(who->role))
                 .field("id", who->id)
                 .field("key_id", t ? t->key_id : std::string())
                 .str() +
             "\n";
    return r;
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
  std::variant<actor, reply> authorize_feed(const request& req, const std::string& agency) override {
    auto who = signed_in(req);
    if (!who) return problem(401, who.error());
    if (!reads_agency_files(*who, agency))
      return problem(403, error(errc::unauthorized, "actor", fmt::format("only agency {} reads its feed", agency)));
    return *who;
  }

  // One page of the agency's feed from `from` (cli::agency_feed_page, on the log the service holds).
  result<cli::feed_page> feed(const std::string& agency, log_position from, const actor& who) override {
    std::ostringstream out, err;
    cli::session s(out, err);
    share_with(s);
    s.json = true;
    s.kafka.reset();  // the page comes from the log the service holds, not a topic's consumer group
    s.who = who;
    return cli::agency_feed_page(s, agency, from, 256);
  }

 private:
  // A request's session: the service's folder and settings, and the engine, log and projections
  // it holds (never opened or closed by the session).
  void share_with(cli::session& s) {
    s.data_dir = base_.data_dir;
    s.kafka = base_.kafka;
    s.calendar_dir = base_.calendar_dir;
    s.rules_file = base_.rules_file;
    s.thursday_off = base_.thursday_off;
    s.shared_engine = &eng_;
    s.shared_log = &log_;
    s.shared_refresh = [this] { return refresh(); };
    s.shared_projections = &store_;
    s.shared_checkpoints = base_.shared_checkpoints;
    s.shared_keys = base_.shared_keys;
  }

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
    if (!*c || !knows_of_case(*who, **c)) return hidden;
    const auto ref = std::find_if((*c)->documents.begin(), (*c)->documents.end(),
                                  [&](const document_ref& d) { return to_hex(d.sha256) == hex; });
    if (ref == (*c)->documents.end()) return hidden;
    document_store store(base_.data_dir / "documents");
    if (base_.shared_keys == nullptr) return problem(503, error(errc::io, "document", "the keys are not open"));
    auto bytes = store.read(ref->sha256, (*c)->consumer_id, *base_.shared_keys);
    if (!bytes && bytes.error().code() == errc::not_found) return hidden;
    if (!bytes) return problem(503, error(errc::io, "document", "the stored document cannot be read: " + bytes.error().message()));
    if (!*bytes) return problem(410, error(errc::wrong_state, "document", "was erased with its consumer's personal data"));
    reply r;
    r.body = std::move(**bytes);
    r.content_type = "application/octet-stream";
    // Its name is personal data, sealed in the case's events (the state keeps none): the last
    // attachment of these bytes names it, opened ("erased" once the consumer's key is gone).
    std::string given = ref->file_name;
    if (auto events = eng_.history(case_id))
      for (const auto& e : *events)
        if (const auto* d = e.payload.AsDocumentAttached(); d && std::string(d->sha256.begin(), d->sha256.end()) == ref->sha256)
          given = d->file_name;
    std::string file_name;
    for (char ch : given)
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
    // Who is asking: a credential, or nobody (to register as a consumer, or to read the
    // standings the seal body publishes).
    std::optional<actor> who;
    if (req.find(http::field::authorization) != req.end() ||
        (spec.name != "register-consumer" && !cli::is_public_read(spec.name))) {
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
    if (!post && who) {
      auto d = cli::authorize_read([this](const std::string& id) { return eng_.find_case(id); }, *who, spec.name, *parsed);
      if (d.verdict == cli::denial::hidden) return problem(404, d.reason);
      if (d.verdict == cli::denial::forbidden) return problem(status_of(d.reason) == 403 ? 403 : status_of(d.reason), d.reason);
      for (const auto& [k, v] : d.narrowed) parsed->add(k, v);
    }

    std::ostringstream out, err;
    cli::session s(out, err);
    share_with(s);
    // JSON unless the client asks for text or CSV (the CLI's --server does, as it prints).
    const auto accept = req.find(http::field::accept);
    const std::string_view wants = accept == req.end() ? std::string_view() : std::string_view(accept->value().data(), accept->value().size());
    s.json = wants.find("text/plain") == std::string_view::npos && wants.find("text/csv") == std::string_view::npos;
    s.csv = wants.find("text/csv") != std::string_view::npos;
    if (const auto d = req.find("X-Digits"); d != req.end() && d->value() == "persian") s.jalali_digits = digits::persian;
    s.who = who.value_or(actor{fb::Role_consumer, ""});
    const auto key = req.find("Idempotency-Key");
    if (key != req.end()) {
      s.command_id = std::string(key->value().data(), key->value().size());
      if (s.command_id.empty() || s.command_id.size() > 128)
        return problem(400, error(errc::invalid_argument, "Idempotency-Key", "must be 1-128 characters"));
    } else {
      s.command_id = random_hex(16);
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
  const std::filesystem::path portal_dir_;
  projections::projector projector_;
  // What the requests waiting on the projections asked for, and the catch-up running (refresh()).
  std::mutex projector_mutex_;
  std::condition_variable projector_done_;
  std::uint64_t asked_ = 0, done_ = 0;
  bool projecting_ = false;
  status done_status_ = ok;
  std::atomic<std::uint64_t> projected_end_{0};  // the log's end before the last catch-up that succeeded
  metrics metrics_;
  std::atomic<bool> ready_{false};
};

}  // namespace

std::unique_ptr<request_handler> make_service(cli::session& base, engine& eng, event_log& log,
                                              projections::projection_store& store, std::filesystem::path portal_dir) {
  return std::make_unique<service>(base, eng, log, store, std::move(portal_dir));
}

}  // namespace sazesh::serve
