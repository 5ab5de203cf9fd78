// `sazesh serve` as its users meet it: the real binary on a random loopback port, a data folder
// of its own, and HTTP/1.1 requests from a plain client. Who is asking comes only from the
// credentials the service issued.

#include "tests/serve_harness.h"

#include "engine/record/hash.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace sazesh {
namespace {

using namespace serve_testing;

TEST_CASE("serve: a complaint's whole lifecycle over HTTP, each actor signed in with its own credential") {
  fixture f;
  const std::string shop = f.business("1002", "shop.example.ir");
  auto [consumer_id, consumer] = f.consumer("0013542419", "09121234567");
  CHECK(consumer_id.rfind("U-", 0) == 0);
  const std::string c = f.file(consumer, "1002", "INV-1");
  const auto& s = f.s();
  const auto ok = [&](const response& r) {
    CHECK_MESSAGE(r.status == 200, r.body);
    return r;
  };
  ok(s.post("accept", f.operator_token, fmt::format(R"({{"case":"{}"}})", c)));
  ok(s.post("respond", shop, fmt::format(R"({{"case":"{}","text":"عذرخواهی می‌کنیم"}})", c)));
  ok(s.post("offer", shop, fmt::format(R"({{"case":"{}","remedy":"refund","amount":"2500000","text":"بازپرداخت کامل"}})", c)));
  ok(s.post("accept-offer", consumer, fmt::format(R"({{"case":"{}","offer":1}})", c)));
  ok(s.post("remedy-fulfilled", shop, fmt::format(R"({{"case":"{}"}})", c)));
  ok(s.post("confirm-remedy", consumer, fmt::format(R"({{"case":"{}"}})", c)));
  ok(s.post("rate", consumer, fmt::format(R"({{"case":"{}","stars":5,"resolved":"yes"}})", c)));

  auto row = ok(s.get("/v1/case?case=" + c, consumer));
  CHECK(json_str(row.body, "status") == "closed");
  // Each event names the actor its credential stands for, not anything the client said.
  auto events = ok(s.get("/v1/events?case=" + c, f.operator_token));
  CHECK(events.body.find("\"actor_role\": \"business\",\"actor_id\": \"1002\"") != std::string::npos);
  CHECK(events.body.find(fmt::format("\"actor_role\": \"consumer\",\"actor_id\": \"{}\"", consumer_id)) != std::string::npos);
  CHECK(events.body.find("\"actor_role\": \"operator\",\"actor_id\": \"ali\"") != std::string::npos);
  // The shop's scorecard is public to anyone signed in.
  auto card = ok(s.get("/v1/scorecard?business=1002", consumer));
  CHECK(card.body.find("\"1002\"") != std::string::npos);
}

// Who may read and write what, endpoint by endpoint, is serve_access_test.cc.
TEST_CASE("serve: a revoked credential signs in no more") {
  fixture f;
  f.business("1002", "shop.example.ir");
  auto [b_id, b] = f.consumer("0067749828", "09121234568");
  const auto& s = f.s();
  CHECK(s.get("/v1/cases", b).status == 200);
  // A revoked credential signs in no more.
  auto rev = s.post("account-revoke", f.operator_token,
                    fmt::format(R"({{"key":"{}","reason":"phone lost"}})", b.substr(3, 12)));
  CHECK_MESSAGE(rev.status == 200, rev.body);
  auto after = s.get("/v1/cases", b);
  CHECK(after.status == 401);
  CHECK(json_str(after.body, "rule") == "names a revoked credential");
}

TEST_CASE("serve: the actor is the credential's, and only the scheduler ticks") {
  fixture f;
  f.business("1002", "shop.example.ir");
  auto [a_id, a] = f.consumer("0013542419", "09121234567");
  const std::string c = f.file(a, "1002", "INV-2");
  const auto& s = f.s();
  auto accept = s.post("accept", a, fmt::format(R"({{"case":"{}"}})", c));
  CHECK(accept.status == 403);
  CHECK(json_str(accept.body, "field") == "actor");
  // Nothing in a request can name another actor or another time.
  auto claim = s.post("accept", a, fmt::format(R"({{"case":"{}","as":"operator:ali"}})", c));
  CHECK(claim.status == 400);
  CHECK(json_str(claim.body, "field") == "as");
  auto when = s.post("message", a, fmt::format(R"({{"case":"{}","text":"x","now":"2099-01-01"}})", c));
  CHECK(when.status == 400);
  CHECK(json_str(when.body, "field") == "now");
  CHECK(s.post("tick", f.operator_token, "").status == 404);
  CHECK(s.get("/v1/accept?case=" + c, f.operator_token).status == 405);
  // A consumer may issue more credentials for itself, never for someone else.
  CHECK(s.post("account-create", a, fmt::format(R"({{"role":"consumer","id":"{}"}})", a_id)).status == 200);
  CHECK(s.post("account-create", a, R"({"role":"operator","id":"mallory"})").status == 403);
}

TEST_CASE("serve: bad requests are refused naming the field and the rule, and write nothing") {
  fixture f;
  const auto& s = f.s();
  const auto problem = [&](const response& r, unsigned status, const std::string& field) {
    CHECK_MESSAGE(r.status == status, r.body);
    CHECK(r.headers.at("Content-Type") == "application/problem+json");
    CHECK(json_str(r.body, "field") == field);
    CHECK(!json_str(r.body, "rule").empty());
  };
  problem(s.post("register-consumer", "", R"({"national-code":"0013542410","mobile":"09121234567","name":"x"})"), 400,
          "national_code");
  problem(s.post("register-consumer", "", R"({"national-code": "0013542419", "mobile": )"), 400, "body");
  problem(s.post("register-consumer", "", R"([1,2,3])"), 400, "body");
  problem(s.post("register-consumer", "", R"({"a":{"b":{"c":1}}})"), 400, "body");
  problem(s.post("register-consumer", "", R"({"name":"a","name":"b"})"), 400, "body");
  problem(s.post("register-consumer", "", R"({"colour":"blue"})"), 400, "colour");
  problem(s.post("register-consumer", "", std::string(300 * 1024, ' ')), 413, "body");
  problem(s.call(http::verb::post, "/v1/register-consumer", "", "national-code=1", {{"Content-Type", "text/plain"}}), 415,
          "Content-Type");
  problem(s.get("/v1/nothing-here", f.operator_token), 404, "path");
  problem(s.post("register-business", f.operator_token, R"({"seal-id":"1002","domain":"a.ir","name":"x\u202efdp.exe"})"),
          400, "name");
  problem(s.post("attach", f.operator_token, R"({"case":"C-1","kind":"invoice","file":"/etc/passwd"})"), 400, "file");
  // None of it reached the log.
  auto all = s.get("/v1/events?all=true", f.operator_token);
  CHECK(all.body.find("ConsumerRegistered") == std::string::npos);
  CHECK(all.body.find("BusinessRegistered") == std::string::npos);
}

TEST_CASE("serve: a repeated Idempotency-Key repeats nothing; If-Match refuses a stale version with 412") {
  fixture f;
  f.business("1002", "shop.example.ir");
  auto [a_id, a] = f.consumer("0013542419", "09121234567");
  const std::string c = f.file(a, "1002", "INV-3");
  const auto& s = f.s();
  const std::string body = fmt::format(R"({{"case":"{}","text":"سلام"}})", c);
  auto first = s.post("message", a, body, {{"Idempotency-Key", "msg-1"}});
  auto again = s.post("message", a, body, {{"Idempotency-Key", "msg-1"}});
  CHECK(first.status == 200);
  CHECK(again.status == 200);
  CHECK(again.body.find("\"repeated\":true") != std::string::npos);
  auto read = s.get("/v1/case?case=" + c, a);
  const std::string tag = read.headers["ETag"];
  REQUIRE(!tag.empty());
  CHECK(tag == "\"2\"");  // filed, one message: the case's version (the repeat wrote nothing)

  // A hundred writers on one version: exactly one wins, the others are told to read again.
  std::atomic<int> won{0}, stale{0}, other{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 100; ++i)
    writers.emplace_back([&, i] {
      auto r = s.post("message", a, fmt::format(R"({{"case":"{}","text":"پیام {}"}})", c, i), {{"If-Match", tag}});
      (r.status == 200 ? won : r.status == 412 ? stale : other) += 1;
    });
  for (auto& t : writers) t.join();
  CHECK(won == 1);
  CHECK(stale == 99);
  CHECK(other == 0);
  CHECK(s.get("/v1/case?case=" + c, a).headers["ETag"] == "\"3\"");
}

TEST_CASE("serve: concurrent writers without If-Match are all written, once each") {
  fixture f;
  f.business("1002", "shop.example.ir");
  auto [a_id, a] = f.consumer("0013542419", "09121234567");
  const std::string c = f.file(a, "1002", "INV-4");
  const auto& s = f.s();
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 32; ++i)
    writers.emplace_back([&, i] {
      auto r = s.post("message", a, fmt::format(R"({{"case":"{}","text":"پیام {}"}})", c, i));
      if (r.status != 200) failed += 1;
    });
  for (auto& t : writers) t.join();
  CHECK(failed == 0);
  CHECK(s.get("/v1/case?case=" + c, a).headers["ETag"] == "\"33\"");  // filed, then 32 messages
}

TEST_CASE("serve: a client that sends too slowly is cut off; the others are served meanwhile") {
  fixture f({"--request-timeout", "500"});
  const auto& s = f.s();
  asio::io_context io;
  tcp::socket slow(io);
  slow.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
  asio::write(slow, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
  CHECK(s.get("/healthz").status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  char buf[64];
  beast::error_code ec;
  const auto n = slow.read_some(asio::buffer(buf), ec);
  CHECK(n == 0);
  CHECK(ec == asio::error::eof);
}

TEST_CASE("serve: killed -9 under load and started again, it has every write it acknowledged, once") {
  fixture f;
  f.business("1002", "shop.example.ir");
  auto [a_id, a] = f.consumer("0013542419", "09121234567");
  const std::string c = f.file(a, "1002", "INV-K");
  std::atomic<bool> stop{false};
  std::mutex m;
  std::set<std::string> acknowledged;
  std::vector<std::thread> writers;
  const unsigned short port = f.s().port();
  for (int w = 0; w < 8; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        const std::string key = fmt::format("w{}-{}", w, i);
        try {
          asio::io_context io;
          beast::tcp_stream stream(io);
          stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
          http::request<http::string_body> req{http::verb::post, "/v1/message", 11};
          req.set(http::field::host, "x");
          req.set(http::field::authorization, "Bearer " + a);
          req.set(http::field::content_type, "application/json");
          req.set("Idempotency-Key", key);
          req.body() = fmt::format(R"({{"case":"{}","text":"{}"}})", c, key);
          req.prepare_payload();
          http::write(stream, req);
          beast::flat_buffer buffer;
          http::response<http::string_body> res;
          http::read(stream, buffer, res);
          if (res.result_int() == 200) {
            std::lock_guard lock(m);
            acknowledged.insert(key);
          }
        } catch (const std::exception&) {
          return;  // the server is gone
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  f.srv->kill9();
  stop = true;
  for (auto& t : writers) t.join();
  REQUIRE(acknowledged.size() > 10);
  server again(f.dir.path());
  auto events = again.get("/v1/events?case=" + c, f.operator_token);
  REQUIRE(events.status == 200);
  std::size_t missing = 0;
  for (const auto& key : acknowledged)
    if (count_of(events.body, "\"command_id\": \"" + key + "\"") != 1) ++missing;
  CHECK(missing == 0);
  MESSAGE(acknowledged.size() << " writes acknowledged before kill -9, all present once after restart");
}

TEST_CASE("serve: SIGTERM stops it cleanly; while it runs, the CLI names its address") {
  fixture f;
  const auto& s = f.s();
  const std::string url = fmt::format("http://127.0.0.1:{}", s.port());
  auto cli = run_binary({"--data-dir", f.dir.path().string(), "--as", "operator:ali", "register-business", "--seal-id",
                         "1002", "--domain", "shop.example.ir", "--name", "x"});
  CHECK(cli.code == 75);
  CHECK(cli.err.find(url) != std::string::npos);
  auto [code, printed] = f.srv->stop();
  CHECK(code == 0);
  CHECK(printed.find("stopped") != std::string::npos);
  CHECK(!std::filesystem::exists(f.dir.path() / "serve.url"));
  f.srv.reset();
}

TEST_CASE("serve: documents are uploaded once by hash and downloaded only by those who may read the case") {
  fixture f;
  f.business("1002", "shop.example.ir");
  auto [a_id, a] = f.consumer("0013542419", "09121234567");
  auto [b_id, b] = f.consumer("0067749828", "09121234568");
  const auto& s = f.s();
  const std::string pdf = "%PDF-1.4 invoice INV-5 " + std::string(100000, 'x');
  auto up = s.call(http::verb::post, "/v1/documents?name=invoice.pdf", a, pdf, {{"Content-Type", "application/pdf"}});
  REQUIRE_MESSAGE(up.status == 201, up.body);
  const std::string ref = json_str(up.body, "reference");
  CHECK(ref.rfind("sha256:", 0) == 0);
  CHECK(ref.size() == 7 + 64 + 1 + 11);
  auto filed = s.post("file", a,
                      fmt::format(R"({{"business":"1002","order-ref":"INV-5","purchase-date":"1405/08/01","amount":1000,)"
                                  R"("category":"other","description":"x","document":["invoice={}"]}})",
                                  ref));
  REQUIRE_MESSAGE(filed.status == 200, filed.body);
  const std::string c = json_str(filed.body, "stream");
  const std::string hex = ref.substr(7, 64);
  auto mine = s.get(fmt::format("/v1/documents/{}?case={}", hex, c), a);
  CHECK(mine.status == 200);
  CHECK(mine.body == pdf);
  CHECK(mine.headers["Content-Disposition"] == "attachment; filename=\"invoice.pdf\"");
  CHECK(s.get(fmt::format("/v1/documents/{}?case={}", hex, c), b).status == 404);
  CHECK(s.get(fmt::format("/v1/documents/{}?case={}", hex, c), f.operator_token).status == 200);
  CHECK(s.get(fmt::format("/v1/documents/{}?case={}", std::string(64, 'a'), c), a).status == 404);
  // Limits: size, type, credential; a path names nothing the service will read.
  {
    // A body announced bigger than a document may be is refused before it is sent.
    asio::io_context io;
    tcp::socket raw(io);
    raw.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
    asio::write(raw, asio::buffer(fmt::format("POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n"
                                              "Content-Type: image/png\r\nContent-Length: {}\r\n\r\n",
                                              a, 20 * 1024 * 1024 + 1)));
    std::string answer(256, '\0');
    beast::error_code ec;
    answer.resize(raw.read_some(asio::buffer(answer), ec));
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
  }
  CHECK(s.call(http::verb::post, "/v1/documents", a, "MZ", {{"Content-Type", "application/x-msdownload"}}).status == 415);
  CHECK(s.call(http::verb::post, "/v1/documents", "", "x", {{"Content-Type", "text/plain"}}).status == 401);
  auto path = s.post("attach", a, fmt::format(R"({{"case":"{}","kind":"photo","file":"/etc/hostname"}})", c));
  CHECK(path.status == 400);
  CHECK(json_str(path.body, "field") == "file");
  // Nothing but documents sits in the store: no half-written uploads left behind.
  std::size_t stray = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(f.dir.path() / "documents"))
    if (e.is_regular_file() && e.path().filename().string().size() != 64 && e.path().filename().string().size() != 64 + 1 + 16) ++stray;
  CHECK(stray == 0);
}

// Reads a Server-Sent Events stream until `enough` says so (or 10 s pass); what arrived.
std::string read_events(unsigned short port, const std::string& target, const std::string& token,
                        const std::map<std::string, std::string>& headers,
                        const std::function<bool(const std::string&)>& enough) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n", target, token);
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  asio::write(stream.socket(), asio::buffer(req));
  std::string got;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char buf[4096];
  while (!enough(got) && std::chrono::steady_clock::now() < until) {
    stream.expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    const auto n = stream.read_some(asio::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  return got;
}

TEST_CASE("serve: an agency follows its feed as Server-Sent Events and resumes with Last-Event-ID") {
  fixture f;
  const auto& s = f.s();
  f.business("1002", "shop.example.ir");
  REQUIRE(s.post("register-agency", f.operator_token, R"({"id":"tazirat","name":"تعزیرات","categories":"other"})").status == 200);
  REQUIRE(s.post("register-agency", f.operator_token, R"({"id":"cyber-police","name":"پلیس فتا","categories":"fraud"})").status == 200);
  const std::string agency = f.credential("agency", "tazirat");
  const std::string other = f.credential("agency", "cyber-police");
  auto [a_id, a] = f.consumer("0013542419", "09121234567");
  const std::string c = f.file(a, "1002", "INV-8");
  REQUIRE(s.post("accept", f.operator_token, fmt::format(R"({{"case":"{}","route":"referral","agency":"tazirat"}})", c)).status == 200);

  const auto first = read_events(s.port(), "/agencies/tazirat/feed", agency, {},
                                 [](const std::string& t) { return t.find("event: referral") != std::string::npos && t.find("\n\n", t.find("event: referral")) != std::string::npos; });
  CHECK(first.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(first.find("Content-Type: text/event-stream") != std::string::npos);
  REQUIRE(count_of(first, "event: referral") == 1);
  CHECK(first.find("ReferredToAgency") != std::string::npos);
  CHECK(first.find(c) != std::string::npos);
  const auto id_at = first.find("id: ") + 4;
  const std::string last_id = first.substr(id_at, first.find('\n', id_at) - id_at);

  // The agency acknowledges; a client resuming after the first event gets the second only.
  REQUIRE(s.post("acknowledge", agency, fmt::format(R"({{"case":"{}"}})", c)).status == 200);
  const auto resumed = read_events(s.port(), "/agencies/tazirat/feed", agency, {{"Last-Event-ID", last_id}},
                                   [](const std::string& t) { return t.find("ReferralAcknowledged") != std::string::npos; });
  CHECK(count_of(resumed, "event: referral") == 1);
  CHECK(resumed.find("\"type\":\"ReferralAcknowledged\"") != std::string::npos);
  const auto next_at = resumed.find("id: ") + 4;
  CHECK(std::stoull(resumed.substr(next_at, resumed.find('\n', next_at) - next_at)) > std::stoull(last_id));

  // Another agency, a consumer, nobody: refused.
  CHECK(s.get("/agencies/tazirat/feed", other).status == 403);
  CHECK(s.get("/agencies/tazirat/feed", a).status == 403);
  CHECK(s.get("/agencies/tazirat/feed").status == 401);
}

TEST_CASE("serve: the CLI's --server sends a command there and prints and exits as it would locally") {
  fixture f;
  const std::string url = fmt::format("http://127.0.0.1:{}", f.s().port());
  const auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", url, "--token", f.operator_token});
    return run_binary(args);
  };
  auto reg = cli({"register-business", "--seal-id", "1002", "--domain", "shop.example.ir", "--name", "فروشگاه"});
  CHECK_MESSAGE(reg.code == 0, reg.err);
  CHECK(reg.out.rfind("1002\n", 0) == 0);  // the text the command prints locally
  auto again = cli({"register-business", "--seal-id", "1002", "--domain", "other.example.ir", "--name", "x"});
  CHECK(again.code == 1);
  CHECK(again.err == "error: seal_id: 1002 is already registered\n");
  auto json = cli({"--json", "scorecard", "--business", "1002"});
  CHECK_MESSAGE(json.code == 0, json.err);
  CHECK(json.out.find("\"business\":\"1002\"") != std::string::npos);
  auto claim = cli({"--as", "operator:ali", "cases"});
  CHECK(claim.code == 2);
  CHECK(claim.err.find("--as") != std::string::npos);
  auto local_only = cli({"tick"});
  CHECK(local_only.code == 2);
  auto nobody = run_binary({"--server", url, "cases"});
  CHECK(nobody.code == 1);
  CHECK(nobody.err.find("Authorization") != std::string::npos);
  auto away = run_binary({"--server", "http://127.0.0.1:1", "--token", f.operator_token, "cases"});
  CHECK(away.code == 75);
}

TEST_CASE("serve: /openapi.json lists every endpoint and no more; /metrics counts requests") {
  fixture f;
  const auto& s = f.s();
  auto doc = s.get("/openapi.json");
  REQUIRE(doc.status == 200);
  std::set<std::string> listed;
  for (std::size_t at = doc.body.find("\"/v1/"); at != std::string::npos; at = doc.body.find("\"/v1/", at + 1))
    listed.insert(doc.body.substr(at + 5, doc.body.find('"', at + 5) - at - 5));
  std::set<std::string> expected;
  std::size_t gets = 0;
  for (const auto& c : cli::commands()) {
    if (c.over_http == cli::command_spec::http::none) continue;
    expected.insert(c.name);
    if (c.over_http == cli::command_spec::http::get) ++gets;
    // Every endpoint answers something other than "no such endpoint".
    auto r = c.over_http == cli::command_spec::http::get ? s.get("/v1/" + c.name, f.operator_token)
                                                        : s.post(c.name, f.operator_token, "{}");
    CHECK_MESSAGE(!(r.status == 404 && json_str(r.body, "field") == "path"), c.name);
  }
  expected.insert("whoami");
  CHECK(listed == expected);
  CHECK(gets >= 10);
  CHECK(expected.count("tick") == 0);
  CHECK(expected.count("account-bootstrap") == 0);
  auto m = s.get("/metrics");
  CHECK(m.body.find("sazesh_http_requests_total{endpoint=\"openapi\",status=\"200\"} 1") != std::string::npos);
  CHECK(m.body.find("sazesh_http_request_seconds_bucket") != std::string::npos);
  CHECK(m.body.find("sazesh_projector_lag_events 0\n") != std::string::npos);  // writes wait for the projections
  CHECK(m.body.find("sazesh_log_end_position ") != std::string::npos);
  CHECK(s.get("/readyz").status == 200);
}

// Run by the serve_test_kafka entry (tests/CMakeLists.txt), which sets $SAZESH_SERVE_TEST_KAFKA;
// tools/test.sh starts the broker and names it in $SAZESH_TEST_KAFKA.
TEST_CASE("serve on Kafka: a case's whole negotiation over HTTP, killed -9 and started again, nothing lost" *
          doctest::skip(std::getenv("SAZESH_SERVE_TEST_KAFKA") == nullptr)) {
  const char* broker = std::getenv("SAZESH_TEST_KAFKA");
  REQUIRE_MESSAGE(broker != nullptr, "SAZESH_TEST_KAFKA must name the broker (tools/test.sh starts one)");
  temp_dir dir;
  const std::vector<std::string> on_kafka{"--kafka", broker, "--kafka-prefix", "serve-" + random_hex(6) + ".",
                                          "--kafka-replication", "1"};
  std::vector<std::string> boot{"--data-dir", dir.path().string(), "--json", "account", "bootstrap", "--id", "ali"};
  boot.insert(boot.end(), on_kafka.begin(), on_kafka.end());
  auto b = run_binary(boot);
  REQUIRE_MESSAGE(b.code == 0, b.err);
  const std::string op = json_str(b.out, "token");
  std::optional<server> srv;
  srv.emplace(dir.path(), on_kafka);
  const auto post = [&](const std::string& command, const std::string& token, const std::string& body) {
    auto r = srv->post(command, token, body);
    REQUIRE_MESSAGE(r.status / 100 == 2, command, ": ", r.body);
    return r;
  };
  post("register-business", op, R"({"seal-id":"1002","domain":"shop.example.ir","name":"فروشگاه"})");
  const std::string shop = json_str(post("account-create", op, R"({"role":"business","id":"1002"})").body, "token");
  auto reg = post("register-consumer", "", R"({"national-code":"0013542419","mobile":"09121234567","name":"مریم"})");
  const std::string consumer = json_str(reg.body, "token");
  const std::string c = json_str(post("file", consumer, R"({"business":"1002","order-ref":"K-1","purchase-date":"1405/08/01",)"
                                                        R"("amount":1000,"category":"other","description":"x"})").body,
                                 "stream");
  post("accept", op, fmt::format(R"({{"case":"{}"}})", c));
  post("respond", shop, fmt::format(R"({{"case":"{}","text":"پاسخ"}})", c));
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int i = 0; i < 20; ++i)
    writers.emplace_back([&, i] {
      if (srv->post("message", consumer, fmt::format(R"({{"case":"{}","text":"پیام {}"}})", c, i)).status != 200) failed += 1;
    });
  for (auto& t : writers) t.join();
  CHECK(failed == 0);
  const auto row = srv->get("/v1/case?case=" + c, consumer);
  CHECK(json_str(row.body, "status") == "negotiation");
  CHECK(row.headers.at("ETag") == "\"24\"");  // filed, accepted, forwarded, answered, 20 messages
  const std::string events = srv->get("/v1/events?case=" + c, op).body;

  srv->kill9();
  srv.emplace(dir.path(), on_kafka);
  CHECK(srv->get("/v1/case?case=" + c, consumer).headers.at("ETag") == "\"24\"");
  CHECK(srv->get("/v1/events?case=" + c, op).body == events);
  post("offer", shop, fmt::format(R"({{"case":"{}","remedy":"refund","amount":"1000","text":"بازپرداخت"}})", c));
  CHECK(srv->get("/v1/case?case=" + c, consumer).headers.at("ETag") == "\"25\"");
}

TEST_CASE("serve: the portal's files are served at / and /assets/, and nothing outside its folder") {
  temp_dir portal;
  std::filesystem::create_directories(portal.path() / "js");
  std::ofstream(portal.path() / "index.html") << "<!doctype html><html lang=\"fa\" dir=\"rtl\"></html>";
  std::ofstream(portal.path() / "js" / "app.js") << "export const x = 1;";
  std::ofstream(portal.path() / ".env") << "secret";
  std::ofstream(portal.path() / "notes.exe") << "no";
  fixture f({"--portal", portal.path().string()});
  const auto& s = f.s();
  auto index = s.get("/");
  CHECK(index.status == 200);
  CHECK(index.headers["Content-Type"] == "text/html; charset=utf-8");
  CHECK(index.headers["Content-Security-Policy"].find("default-src 'self'") != std::string::npos);
  CHECK(index.body.find("dir=\"rtl\"") != std::string::npos);
  auto js = s.get("/assets/js/app.js");
  CHECK(js.status == 200);
  CHECK(js.headers["Content-Type"] == "text/javascript; charset=utf-8");
  for (const char* bad : {"/assets/../index.html", "/assets/.env", "/assets/notes.exe", "/assets/js", "/assets/js/",
                                 "/assets//js/app.js", "/assets/js/%2e%2e/index.html", "/assets/nothing.js",
                                 "/assets/js/../../serve.url"}) {
    auto r = s.get(bad);
    CHECK_MESSAGE(r.status == 404, bad);
    CHECK(r.body.find("secret") == std::string::npos);
  }
  CHECK(s.call(http::verb::post, "/", "", "{}").status == 405);
  // A folder with no portal in it is refused when named.
  temp_dir empty;
  auto r = run_binary({"--data-dir", f.dir.path().string(), "serve", "--portal", empty.path().string()});
  CHECK(r.code == 2);
  CHECK(r.err.find("--portal") != std::string::npos);
}

TEST_CASE("serve: /metrics counts the cases with a deadline due until the scheduler applies them") {
  temp_dir dir;
  const std::string d = dir.path().string();
  // A case accepted in January on this folder: the shop's 72 working hours passed long ago.
  const auto local = [&](const std::string& as, std::vector<std::string> args) {
    std::vector<std::string> a{"--data-dir", d, "--now", "2026-01-03T08:00:00Z", "--json"};
    if (!as.empty()) a.insert(a.end(), {"--as", as});
    a.insert(a.end(), args.begin(), args.end());
    auto r = run_binary(a);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return json_str(r.out, "stream");
  };
  local("operator:ops", {"register-business", "--seal-id", "1002", "--domain", "shop.example.ir", "--name", "فروشگاه"});
  const std::string consumer = local("", {"register-consumer", "--national-code", "0013542419", "--mobile", "09121234567",
                                          "--name", "مریم"});
  const std::string c = local("consumer:" + consumer, {"file", "--business", "1002", "--order-ref", "INV-1", "--purchase-date",
                                                       "1404/10/01", "--amount", "1000", "--category", "other",
                                                       "--description", "x"});
  local("operator:ops", {"accept", "--case", c});
  const auto due = [](const server& srv) {
    const std::string m = srv.get("/metrics").body;
    const auto at = m.find("\nsazesh_deadlines_due ");
    REQUIRE(at != std::string::npos);
    return std::stoi(m.substr(at + 22));
  };
  {
    server srv(dir.path());  // --tick-every 0: no scheduler
    CHECK(due(srv) == 1);
  }
  server srv(dir.path(), {"--tick-every", "100"});
  int left = 1;
  for (int i = 0; i < 100 && left != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = due(srv);
  }
  CHECK(left == 0);
}


TEST_CASE("serve: the log is signed at start, on its timer as it grows, and at shutdown; proofs are anyone's") {
  fixture f({"--checkpoint-every", "200"});
  const auto& s = f.s();
  const auto size_now = [&] {
    auto r = s.get("/v1/checkpoint", "");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const auto at = r.body.find("\"tree_size\":");
    REQUIRE(at != std::string::npos);
    return std::stoull(r.body.substr(at + 12));
  };
  const auto first = size_now();
  CHECK(first >= 1);  // the bootstrap's credential, signed as the service started
  f.business("1002", "shop.example.ir");
  std::uint64_t grown = first;
  for (int i = 0; i < 100 && grown == first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    grown = size_now();
  }
  CHECK(grown > first);
  auto proof = s.get(fmt::format("/v1/proof?position={}", grown - 1), "");
  CHECK_MESSAGE(proof.status == 200, proof.body);
  CHECK(proof.body.find("\"inclusion_proof\":[") != std::string::npos);
  // A write just before SIGTERM is signed as the service stops.
  f.business("1003", "late.example.ir");
  auto [code, printed] = f.srv->stop();
  CHECK(code == 0);
  f.srv.reset();
  auto verified = run_binary({"--data-dir", f.dir.path().string(), "--as", "auditor:a", "--json", "verify"});
  INFO(verified.err);
  CHECK(verified.code == 0);
  CHECK(verified.out.find("\"unsigned_events\":0") != std::string::npos);
}

}  // namespace
}  // namespace sazesh
