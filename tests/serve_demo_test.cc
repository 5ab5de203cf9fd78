// The demo's stories (cli/demo.cc) told again over HTTP, each actor signed in with a credential
// the service issued and every document uploaded first. The service keeps its own clock, so the
// turns the demo takes by moving time (the response ladder, seven days of silence) are taken
// here by the actors instead: the consumer asks for mediation, and confirms the remedy before
// reopening. What each story leaves is checked from the reads, as a user would see it.

#include <algorithm>
#include <doctest/doctest.h>

#include "tests/serve_harness.h"

namespace sazesh {
namespace {

using namespace serve_testing;

struct demo_over_http {
  fixture f;
  const server& s() const { return f.s(); }

  response ok(const std::string& command, const std::string& token, const std::string& body) {
    auto r = s().post(command, token, body);
    REQUIRE_MESSAGE(r.status / 100 == 2, command, ": ", r.body);
    return r;
  }
  std::string on(const std::string& command, const std::string& token, const std::string& kase, const std::string& rest = "") {
    return ok(command, token, fmt::format(R"({{"case":"{}"{}{}}})", kase, rest.empty() ? "" : ",", rest)).body;
  }
  std::string upload(const std::string& token, const std::string& name, const std::string& type, const std::string& bytes) {
    auto r = s().call(http::verb::post, "/v1/documents?name=" + name, token, bytes, {{"Content-Type", type}});
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return json_str(r.body, "reference");
  }
  std::string consumer(const std::string& code, const std::string& mobile, const std::string& name) {
    auto r = ok("register-consumer", "", fmt::format(R"({{"national-code":"{}","mobile":"{}","name":"{}"}})", code, mobile, name));
    return json_str(r.body, "token");
  }
  std::string file(const std::string& token, const std::string& body) { return json_str(ok("file", token, body).body, "stream"); }
  std::string status_of(const std::string& token, const std::string& kase) {
    return json_str(s().get("/v1/case?case=" + kase, token).body, "status");
  }
};

TEST_CASE("serve: the demo's stories over HTTP, every actor signed in, every document uploaded") {
  demo_over_http d;
  const std::string op = d.f.operator_token;
  // Registration.
  for (const auto& [seal, domain, name] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"1001", "kalaland.ir", "فروشگاه کالالند"}, {"1002", "shikposh.ir", "پوشاک شیک‌پوش"}, {"1003", "tekno-bazar.ir", "تکنوبازار"}})
    d.ok("register-business", op, fmt::format(R"({{"seal-id":"{}","domain":"{}","name":"{}"}})", seal, domain, name));
  d.ok("register-agency", op,
       R"({"id":"consumer-protection","name":"سازمان حمایت","categories":"non_delivery,defective,not_as_described,refund_refused,warranty,service,other"})");
  d.ok("register-agency", op, R"({"id":"tazirat","name":"سازمان تعزیرات حکومتی","categories":"pricing,refund_refused,non_delivery,not_as_described"})");
  const std::string mediator_id =
      json_str(d.ok("register-mediator", op, R"({"name":"زهرا کریمی","mobile":"09351112233"})").body, "stream");
  const std::string kalaland = d.f.credential("business", "1001"), shikposh = d.f.credential("business", "1002"),
                    tekno = d.f.credential("business", "1003"), mediator = d.f.credential("mediator", mediator_id),
                    protection = d.f.credential("agency", "consumer-protection"), tazirat = d.f.credential("agency", "tazirat");
  const std::string sara = d.consumer("5260181591", "09121234567", "سارا احمدی");
  const std::string reza = d.consumer("0830166130", "09187654321", "رضا موسوی");
  const std::string neda = d.consumer("1860913903", "09301112222", "ندا حسینی");
  const std::string omid = d.consumer("9960308243", "09123334444", "امید رحیمی");
  const std::string leila = d.consumer("6281948211", "09125556666", "لیلا نادری");

  // 1. Settled by negotiation.
  const std::string a = d.file(sara, fmt::format(
      R"({{"business":"kalaland.ir","order-ref":"KL-88213","purchase-date":"1405/08/05","amount":48500000,"category":"defective",)"
      R"("description":"مخلوط‌کن رسید ولی بدنه‌اش ترک داشت.","remedy":"replacement","document":["invoice={}","photo={}"]}})",
      d.upload(sara, "factor-KL-88213.pdf", "application/pdf", "invoice KL-88213"),
      d.upload(sara, "cracked-blender.jpg", "image/jpeg", "photo of the cracked blender")));
  d.on("accept", op, a, R"("note":"مدارک کامل است")");
  d.on("respond", kalaland, a, R"("text":"پوزش می‌خواهیم؛ کالای سالم جایگزین می‌شود.")");
  d.on("offer", kalaland, a, R"("remedy":"replacement","text":"ارسال مخلوط‌کن نو ظرف ۵ روز","remedy-days":"5")");
  d.on("accept-offer", sara, a, R"("offer":1)");
  // 4. Refused as a duplicate, naming the open case; nothing written.
  auto dup = d.s().post("file", sara, R"({"business":"1001","order-ref":"KL-88213","purchase-date":"1405/08/05","amount":48500000,)"
                                      R"("category":"defective","description":"همان سفارش"})");
  CHECK(dup.status == 409);
  CHECK(json_str(dup.body, "field") == "order_reference");
  CHECK(dup.body.find(a) != std::string::npos);
  d.on("remedy-fulfilled", kalaland, a, R"("note":"تحویل شد")");
  d.on("confirm-remedy", sara, a, R"("note":"دستگاه نو سالم رسید")");
  d.on("rate", sara, a, R"("stars":5,"resolved":"yes","comment":"سریع و منصفانه")");
  CHECK(d.status_of(sara, a) == "closed");

  // 2. Settled in mediation (over HTTP the consumer asks for it; the ladder needs days to pass).
  const std::string b = d.file(reza, fmt::format(
      R"({{"business":"shikposh.ir","order-ref":"SP-4410","purchase-date":"1405/08/01","amount":23000000,)"
      R"("category":"not_as_described","description":"پالتوی ارسالی رنگ دیگری دارد.","document":["invoice={}","photo={}"]}})",
      d.upload(reza, "SP-4410.pdf", "application/pdf", "invoice SP-4410"), d.upload(reza, "coat.jpg", "image/jpeg", "the coat")));
  d.on("accept", op, b);
  d.on("respond", shikposh, b, R"("text":"بررسی می‌کنیم")");
  d.on("request-mediation", reza, b, R"("text":"پاسخ قانع‌کننده نبود")");
  d.on("assign-mediator", op, b, fmt::format(R"("mediator":"{}")", mediator_id));
  d.on("message", mediator, b, R"("text":"جلسه آنلاین فردا ساعت ۱۰")");
  d.on("propose-settlement", mediator, b, R"("text":"بازگشت کامل وجه","remedy":"refund","amount":"23000000")");
  d.on("conclude-mediation", mediator, b, R"("outcome":"settled","text":"طرفین پذیرفتند")");
  d.on("rate", reza, b, R"("stars":4,"resolved":"yes")");
  CHECK(d.status_of(reza, b) == "closed");

  // 3. Mediation fails; referred, transferred and decided.
  const std::string c = d.file(neda, fmt::format(
      R"({{"business":"1003","order-ref":"TB-77102","purchase-date":"1405/07/20","amount":610000000,"category":"refund_refused",)"
      R"("description":"وجه لپ‌تاپ مرجوعی برنگشت.","document":["invoice={}","payment_receipt={}","correspondence={}"]}})",
      d.upload(neda, "TB-77102.pdf", "application/pdf", "invoice TB-77102"),
      d.upload(neda, "receipt.png", "image/png", "bank receipt"), d.upload(neda, "emails.txt", "text/plain", "three emails")));
  d.on("accept", op, c);
  d.on("respond", tekno, c, R"("text":"فقط ۵۰٪ قابل بازپرداخت است.")");
  d.on("offer", tekno, c, R"("remedy":"partial_refund","amount":"305000000","text":"بازپرداخت نیمی از مبلغ")");
  d.on("reject-offer", neda, c, R"("offer":1,"text":"کالا سالم تحویل شد")");
  d.on("request-mediation", neda, c, R"("text":"به توافق نرسیدیم")");
  d.on("assign-mediator", op, c, fmt::format(R"("mediator":"{}")", mediator_id));
  d.on("conclude-mediation", mediator, c, R"("outcome":"failed","text":"فروشنده نپذیرفت")");
  d.on("refer", op, c, R"("agency":"consumer-protection","text":"پرونده کامل")");
  d.on("acknowledge", protection, c);
  d.on("transfer", protection, c, R"("to":"tazirat","reason":"در صلاحیت تعزیرات است")");
  auto late = d.s().post("decide", protection, fmt::format(R"({{"case":"{}","verdict":"upheld","text":"…"}})", c));
  CHECK(late.status == 403);  // it held the case, so it knows of it; it holds it no more
  d.on("acknowledge", tazirat, c);
  // The agency reads the whole file, documents included.
  auto dossier = d.s().get(fmt::format("/v1/dossier?agency=tazirat&case={}", c), tazirat);
  CHECK(dossier.status == 200);
  CHECK(dossier.body.find("ندا حسینی") != std::string::npos);
  d.on("decide", tazirat, c, R"("verdict":"upheld","text":"فروشنده به استرداد کامل وجه محکوم شد")");
  CHECK(d.status_of(neda, c) == "closed");

  // 5. Waiting for documents: triage waits for the receipt, then takes the case.
  const std::string e = d.file(omid, fmt::format(
      R"({{"business":"kalaland.ir","order-ref":"KL-90007","purchase-date":"1405/08/20","amount":9900000,"category":"non_delivery",)"
      R"("description":"سفارش هنوز ارسال نشده است.","remedy":"delivery","document":["invoice={}"]}})",
      d.upload(omid, "KL-90007.pdf", "application/pdf", "invoice KL-90007")));
  CHECK(d.status_of(omid, e) == "awaiting_documents");
  auto early = d.s().post("accept", op, fmt::format(R"({{"case":"{}"}})", e));
  CHECK(early.status == 422);
  CHECK(early.body.find("payment_receipt") != std::string::npos);
  d.on("attach", omid, e, fmt::format(R"("kind":"payment_receipt","file":"{}")", d.upload(omid, "paid.pdf", "application/pdf", "paid")));
  CHECK(d.status_of(omid, e) == "awaiting_triage");
  d.on("accept", op, e);

  // 6. Reopened when the remedy was not delivered after all.
  const std::string g = d.file(leila, fmt::format(
      R"({{"business":"shikposh.ir","order-ref":"SP-5120","purchase-date":"1405/05/02","amount":31000000,"category":"warranty",)"
      R"("description":"ساعت در دوره گارانتی از کار افتاد.","remedy":"repair","document":["invoice={}","warranty_card={}"]}})",
      d.upload(leila, "SP-5120.pdf", "application/pdf", "invoice SP-5120"),
      d.upload(leila, "warranty.jpg", "image/jpeg", "warranty card")));
  d.on("accept", op, g);
  d.on("respond", shikposh, g, R"("text":"ساعت را برای تعمیر بفرستید.")");
  d.on("offer", shikposh, g, R"("remedy":"repair","text":"تعمیر رایگان ظرف ۷ روز")");
  d.on("accept-offer", leila, g, R"("offer":1)");
  d.on("remedy-fulfilled", shikposh, g, R"("note":"ارسال شد")");
  d.on("confirm-remedy", leila, g);
  d.on("reopen", leila, g, R"("reason":"ساعت تعمیرشده هرگز به دستم نرسید.")");
  CHECK(d.status_of(leila, g) == "awaiting_mediator");
  d.on("assign-mediator", op, g, fmt::format(R"("mediator":"{}")", mediator_id));

  // Where every case stands, as the analyst's list shows it (ids, no personal data).
  const std::string analyst = d.f.credential("analyst", "sara-analyst");
  const std::string all = d.s().get("/v1/cases", analyst).body;
  for (const auto& id : {a, b, c, e, g}) CHECK(all.find(id) != std::string::npos);
  for (const char* secret : {"5260181591", "سارا احمدی", "09121234567"}) CHECK(all.find(secret) == std::string::npos);
  // The shops' standings are public: no credential needed.
  auto standings = d.s().get("/v1/score");
  CHECK(standings.status == 200);
  for (const char* seal : {"1001", "1002", "1003"}) CHECK(standings.body.find(seal) != std::string::npos);
  // And so are they signed, and the open data: every case a row, none of its people's data.
  auto note = d.s().call(http::verb::get, "/v1/export-standings", "", "", {{"Accept", "text/plain"}});
  CHECK(note.status == 200);
  CHECK(note.body.find("/standings\nas-of ") != std::string::npos);
  CHECK(note.body.find("\n\n\xe2\x80\x94 ") != std::string::npos);  // the blank line and the signature's em dash
  // The open data is released by months that have ended: this month's cases are not in it yet,
  // and a small k is for those who read the cases' rows anyway.
  auto open_data = d.s().get("/v1/export-open-data?format=csv");
  CHECK(open_data.status == 200);
  CHECK(open_data.headers["Content-Type"].rfind("text/csv", 0) == 0);
  CHECK(open_data.body.rfind("received,sent_to_shop,category,", 0) == 0);
  for (const char* secret : {"5260181591", "سارا احمدی", "09121234567", "C-", "U-"})
    CHECK(open_data.body.find(secret) == std::string::npos);
  CHECK(d.s().get("/v1/export-open-data?k=1").status == 403);
  CHECK(d.s().get("/v1/export-open-data?k=1", analyst).status == 200);
  CHECK(d.s().get("/v1/export-open-data?k=0").status == 400);
  // The log verifies, every chain intact.
  auto verified = d.s().get("/v1/verify", op);
  CHECK(verified.status == 200);
  CHECK(verified.body.find("\"intact\":true") != std::string::npos);
}

}  // namespace
}  // namespace sazesh
