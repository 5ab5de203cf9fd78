// Who may do what over HTTP, as one table: every endpoint `sazesh serve` offers, asked by every
// kind of actor, with the status each must get. Writes carry a stale If-Match, so an actor who
// may act is told 412 (read the case again) and nothing is written, while one who may not is
// told 403, or 404 for a case it may not know exists; commands on no case are given bodies that
// fail after the actor is checked. The table is checked against the command table itself: an
// endpoint added without a row here fails the test.

#include <doctest/doctest.h>

#include "tests/serve_harness.h"

namespace sazesh {
namespace {

using namespace serve_testing;

struct actors {
  std::map<std::string, std::string> token;  // by name: "" is nobody
  std::string consumer_id;
};

// The names of the actors, in the order each row asks them.
const std::vector<std::string> everyone{"nobody",   "bad-token", "consumer", "other-consumer", "business",
                                        "other-business", "mediator", "other-mediator", "agency", "other-agency",
                                        "analyst", "auditor", "operator"};

TEST_CASE("serve: every role on every endpoint gets the status the table gives, and writes nothing it may not") {
  fixture f;
  const auto& s = f.s();
  actors a;
  a.token["nobody"] = "";
  a.token["bad-token"] = "sz_0123456789ab_" + std::string(64, 'a');
  a.token["operator"] = f.operator_token;
  a.token["auditor"] = f.credential("auditor", "reza");
  a.token["analyst"] = f.credential("analyst", "sara");
  a.token["business"] = f.business("1002", "shop.example.ir");
  a.token["other-business"] = f.business("2002", "other.example.ir");
  auto [consumer_id, consumer] = f.consumer("0013542419", "09121234567");
  a.consumer_id = consumer_id;
  a.token["consumer"] = consumer;
  a.token["other-consumer"] = f.consumer("0067749828", "09121234568").second;
  const auto ok = [&](const response& r) {
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r;
  };
  ok(s.post("register-agency", f.operator_token, R"({"id":"tazirat","name":"تعزیرات","categories":"other,defective"})"));
  ok(s.post("register-agency", f.operator_token, R"({"id":"cyber-police","name":"پلیس فتا","categories":"other"})"));
  a.token["agency"] = f.credential("agency", "tazirat");
  a.token["other-agency"] = f.credential("agency", "cyber-police");
  const auto mediator = [&](const std::string& mobile) {
    auto r = ok(s.post("register-mediator", f.operator_token, fmt::format(R"({{"name":"میانجی","mobile":"{}"}})", mobile)));
    return json_str(r.body, "stream");
  };
  const std::string m1 = mediator("09351111111"), m2 = mediator("09352222222");
  a.token["mediator"] = f.credential("mediator", m1);
  a.token["other-mediator"] = f.credential("mediator", m2);

  // Three cases of one consumer against one shop: in negotiation, in mediation, referred.
  const std::string nego = f.file(consumer, "1002", "INV-1");
  ok(s.post("accept", f.operator_token, fmt::format(R"({{"case":"{}"}})", nego)));
  ok(s.post("respond", a.token["business"], fmt::format(R"({{"case":"{}","text":"بررسی می‌کنیم"}})", nego)));
  const std::string med = f.file(consumer, "1002", "INV-2");
  ok(s.post("accept", f.operator_token, fmt::format(R"({{"case":"{}"}})", med)));
  ok(s.post("respond", a.token["business"], fmt::format(R"({{"case":"{}","text":"بررسی می‌کنیم"}})", med)));
  ok(s.post("request-mediation", consumer, fmt::format(R"({{"case":"{}","text":"پاسخی نرسید"}})", med)));
  ok(s.post("assign-mediator", f.operator_token, fmt::format(R"({{"case":"{}","mediator":"{}"}})", med, m1)));
  const std::string ref = f.file(consumer, "1002", "INV-3");
  ok(s.post("accept", f.operator_token, fmt::format(R"({{"case":"{}","route":"referral","agency":"tazirat"}})", ref)));
  // A document of the consumer's, for attach.
  auto up = s.call(http::verb::post, "/v1/documents?name=invoice.txt", consumer, "فاکتور",
                   {{"Content-Type", "text/plain"}});
  REQUIRE_MESSAGE(up.status == 201, up.body);
  const std::string document = json_str(up.body, "reference");
  // A second credential of the consumer's, for revoke.
  const std::string spare = f.credential("consumer", consumer_id);
  const std::string spare_key = spare.substr(3, 12);

  // Who knows of each case (anyone else is told it does not exist).
  const std::map<std::string, std::set<std::string>> knows{
      {nego, {"consumer", "business", "operator", "auditor", "analyst"}},
      {med, {"consumer", "business", "operator", "auditor", "analyst", "mediator"}},
      {ref, {"consumer", "business", "operator", "auditor", "analyst", "agency"}},
  };
  const auto events_now = [&] { return s.get("/v1/events?all=true", f.operator_token).body; };
  const std::string before = events_now();

  // ---- Writes on a case: 401 for no credential, 404 for a case the actor may not know of,
  // 403 for one it knows but may not act on, 412 (the stale If-Match) for one it may.
  struct case_write {
    std::string command, kase, body;  // body: the JSON members after "case"
    std::set<std::string> may;
  };
  const std::vector<case_write> case_writes{
      {"attach", nego, fmt::format(R"("kind":"invoice","file":"{}")", document), {"consumer", "business"}},
      {"message", nego, R"("text":"سلام")", {"consumer", "business", "operator"}},
      {"message", med, R"("text":"سلام")", {"consumer", "business", "operator", "mediator"}},
      {"message", ref, R"("text":"سلام")", {"consumer", "business", "operator", "agency"}},
      {"offer", nego, R"("remedy":"refund","amount":"1000","text":"بازپرداخت")", {"consumer", "business"}},
      {"accept-offer", nego, R"("offer":1)", {"consumer", "business"}},
      {"reject-offer", nego, R"("offer":1)", {"consumer", "business"}},
      {"confirm-remedy", nego, "", {"consumer"}},
      {"remedy-not-fulfilled", nego, R"("note":"نرسید")", {"consumer"}},
      {"request-mediation", nego, R"("text":"x")", {"consumer"}},
      {"withdraw", nego, "", {"consumer"}},
      {"rate", nego, R"("stars":5,"resolved":"yes")", {"consumer"}},
      {"reopen", nego, R"("reason":"x")", {"consumer"}},
      {"respond", nego, R"("text":"x")", {"business"}},
      {"remedy-fulfilled", nego, "", {"business"}},
      {"accept", nego, "", {"operator"}},
      {"reject", nego, R"("reason":"abusive","note":"x")", {"operator"}},
      {"request-documents", nego, R"("kinds":"invoice")", {"operator"}},
      {"assign-mediator", med, fmt::format(R"("mediator":"{}")", m2), {"operator"}},
      {"refer", med, R"("agency":"tazirat","text":"x")", {"operator"}},
      {"propose-settlement", med, R"("text":"نصف")", {"mediator"}},
      {"conclude-mediation", med, R"("outcome":"failed","text":"x")", {"mediator", "operator"}},
      {"acknowledge", ref, "", {"agency"}},
      {"extend", ref, "", {"agency"}},
      {"transfer", ref, R"("to":"cyber-police","reason":"x")", {"agency", "operator"}},
      {"decide", ref, R"("verdict":"upheld","text":"x")", {"agency"}},
  };
  std::set<std::string> covered;
  std::size_t asked = 0;
  for (const auto& w : case_writes) {
    covered.insert(w.command);
    const std::string body = fmt::format(R"({{"case":"{}"{}{}}})", w.kase, w.body.empty() ? "" : ",", w.body);
    for (const auto& who : everyone) {
      const unsigned expected = who == "nobody" || who == "bad-token" ? 401
                                : knows.at(w.kase).count(who) == 0 ? 404
                                : w.may.count(who) == 0           ? 403
                                                                  : 412;
      auto r = s.post(w.command, a.token[who], body, {{"If-Match", "\"999\""}});
      ++asked;
      CHECK_MESSAGE(r.status == expected, w.command, " on ", w.kase, " as ", who, ": ", r.body);
      if (expected == 404) CHECK_MESSAGE(json_str(r.body, "field") == "case_id", w.command, " as ", who, ": ", r.body);
    }
  }

  // ---- Writes on no case: bodies that fail after the actor is checked (a duplicate, an
  // unknown shop, a bad mobile), so the actor who may is told why, the others 403.
  struct other_write {
    std::string command, body;
    std::map<std::string, std::pair<unsigned, std::string>> may;  // actor: status, field
  };
  const std::vector<other_write> other_writes{
      {"register-consumer", R"({"national-code":"0013542419","mobile":"09121234567","name":"x"})",
       {{"nobody", {409, "national_code"}}, {"consumer", {409, "national_code"}}, {"other-consumer", {409, "national_code"}},
        {"operator", {409, "national_code"}}}},
      {"register-business", R"({"seal-id":"1002","domain":"shop.example.ir","name":"x"})", {{"operator", {409, "seal_id"}}}},
      {"register-agency", R"({"id":"tazirat","name":"x","categories":"other"})", {{"operator", {409, "agency_id"}}}},
      {"register-mediator", R"({"name":"x","mobile":"0912"})", {{"operator", {400, "mobile"}}}},
      {"file", R"({"business":"9999","order-ref":"X-1","purchase-date":"1405/08/01","amount":1000,"category":"other","description":"x"})",
       {{"consumer", {404, "business"}}, {"other-consumer", {404, "business"}}}},
      {"restrict-seal", R"({"business":"9999","reason":"x"})", {{"operator", {404, "business"}}}},
      {"reinstate-seal", R"({"business":"1002","reason":"x"})", {{"operator", {409, "business"}}}},
      // The consumer's cases are open: its data is still needed.
      {"forget", fmt::format(R"({{"party":"{}","reason":"x"}})", consumer_id), {{"operator", {409, "party"}}}},
      {"account-create", fmt::format(R"({{"role":"consumer","id":"{}"}})", consumer_id),
       {{"consumer", {200, ""}}, {"operator", {200, ""}}}},
      // The consumer (asked before the operator) revokes its spare credential; the operator then
      // finds it revoked already.
      {"account-revoke", fmt::format(R"({{"key":"{}","reason":"x"}})", spare_key),
       {{"consumer", {200, ""}}, {"operator", {409, "key_id"}}}},
  };
  for (const auto& w : other_writes) {
    covered.insert(w.command);
    for (const auto& who : everyone) {
      const auto allowed = w.may.find(who);
      const bool anonymous = who == "nobody" || who == "bad-token";
      const unsigned expected = allowed != w.may.end() ? allowed->second.first
                                : anonymous && !(w.command == "register-consumer" && who == "nobody") ? 401
                                                                                                      : 403;
      auto r = s.post(w.command, a.token[who], w.body);
      ++asked;
      CHECK_MESSAGE(r.status == expected, w.command, " as ", who, ": ", r.body);
      if (allowed != w.may.end() && !allowed->second.second.empty())
        CHECK_MESSAGE(json_str(r.body, "field") == allowed->second.second, w.command, " as ", who, ": ", r.body);
      if (expected == 403) CHECK_MESSAGE(json_str(r.body, "field") == "actor", w.command, " as ", who, ": ", r.body);
    }
  }

  // Nothing but the two credentials and the one revocation was written by any of it.
  const std::string after = events_now();
  REQUIRE(after.size() > before.size());
  CHECK(after.substr(0, before.size()) == before);
  const std::string added = after.substr(before.size());
  CHECK(count_of(added, "\"payload_type\": \"CredentialIssued\"") == 2);
  CHECK(count_of(added, "\"payload_type\": \"CredentialRevoked\"") == 1);
  CHECK(count_of(added, "\n") == 3);

  // ---- Reads.
  struct read_row {
    std::string command, target;
    std::map<std::string, unsigned> status;  // by actor; anyone not named: `otherwise`
    unsigned otherwise;
  };
  const auto a_case = [](bool analyst_may) {
    std::map<std::string, unsigned> m{{"consumer", 200}, {"business", 200}, {"operator", 200}, {"auditor", 200},
                                      {"analyst", analyst_may ? 200u : 403u}};
    return m;
  };
  const std::vector<read_row> reads{
      {"show", "/v1/show?case=" + nego, a_case(false), 404},
      {"show", "/v1/show?case=" + med, [&] { auto m = a_case(false); m["mediator"] = 200; return m; }(), 404},
      {"events", "/v1/events?case=" + ref, [&] { auto m = a_case(false); m["agency"] = 200; return m; }(), 404},
      {"events", "/v1/events?all=true", {{"operator", 200}, {"auditor", 200}}, 403},
      {"case", "/v1/case?case=" + nego, a_case(true), 404},
      {"cases", "/v1/cases", {}, 200},
      {"verify", "/v1/verify", {{"operator", 200}, {"auditor", 200}}, 403},
      {"scorecard", "/v1/scorecard?business=1002", {{"nobody", 200}}, 200},
      {"top", "/v1/top", {{"nobody", 200}}, 200},
      {"stats", "/v1/stats?by=status", {}, 200},
      {"score", "/v1/score", {{"nobody", 200}}, 200},
      {"explain", "/v1/explain?business=1002", {}, 200},
      {"rules", "/v1/rules", {{"nobody", 200}}, 200},
      {"checkpoint", "/v1/checkpoint", {{"nobody", 200}}, 200},
      {"proof", "/v1/proof?position=0", {{"nobody", 200}}, 200},
      {"export-open-data", "/v1/export-open-data", {{"nobody", 200}}, 200},
      {"export-standings", "/v1/export-standings", {{"nobody", 200}}, 200},
      {"queue", "/v1/queue?agency=tazirat", {{"operator", 200}, {"auditor", 200}, {"analyst", 200}, {"agency", 200}}, 403},
      {"dossier", fmt::format("/v1/dossier?agency=tazirat&case={}", ref),
       {{"operator", 200}, {"auditor", 200}, {"agency", 200}}, 403},
  };
  for (const auto& r : reads) {
    covered.insert(r.command);
    for (const auto& who : everyone) {
      const auto named = r.status.find(who);
      // The standings the seal body publishes are open to all; a bad token is refused anyway.
      const unsigned expected = named != r.status.end()                    ? named->second
                                : who == "nobody" || who == "bad-token" ? 401
                                                                        : r.otherwise;
      auto got = s.get(r.target, a.token[who]);
      ++asked;
      CHECK_MESSAGE(got.status == expected, r.target, " as ", who, ": ", got.body);
      // No answer but a 200 says anything of the case's consumer.
      if (got.status != 200) CHECK(got.body.find("0013542419") == std::string::npos);
    }
  }
  // The lists hold only what their reader may see.
  CHECK(s.get("/v1/cases", a.token["other-consumer"]).body.find(nego) == std::string::npos);
  CHECK(s.get("/v1/cases", a.token["other-business"]).body.find(nego) == std::string::npos);
  CHECK(s.get("/v1/cases", a.token["mediator"]).body.find(nego) == std::string::npos);
  CHECK(s.get("/v1/cases", a.token["mediator"]).body.find(med) != std::string::npos);
  CHECK(s.get("/v1/cases", a.token["agency"]).body.find(ref) != std::string::npos);
  CHECK(s.get("/v1/cases", a.token["agency"]).body.find(nego) == std::string::npos);
  CHECK(s.get("/v1/cases", a.token["consumer"]).body.find(nego) != std::string::npos);
  CHECK(s.get("/v1/cases?business=1002", a.token["other-business"]).status == 403);
  for (const auto& who : {"analyst", "auditor"})
    CHECK(s.get("/v1/cases", a.token[who]).body.find("0013542419") == std::string::npos);

  // Who a credential signs in.
  for (const auto& who : everyone) {
    auto me = s.get("/v1/whoami", a.token[who]);
    ++asked;
    if (who == "nobody" || who == "bad-token") {
      CHECK(me.status == 401);
      continue;
    }
    CHECK_MESSAGE(me.status == 200, who, ": ", me.body);
    const std::string role = json_str(me.body, "role");
    CHECK(who.find(role) != std::string::npos);
  }
  CHECK(json_str(s.get("/v1/whoami", a.token["consumer"]).body, "id") == consumer_id);

  // Every endpoint the service offers has its rows.
  for (const auto& c : cli::commands())
    if (c.over_http != cli::command_spec::http::none) CHECK_MESSAGE(covered.count(c.name) == 1, "no row for ", c.name);
  MESSAGE(asked << " requests checked");
}

}  // namespace
}  // namespace sazesh
