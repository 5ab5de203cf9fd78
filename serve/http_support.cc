#include "serve/http_support.h"

#include <fmt/format.h>

#include "cli/app.h"
#include "cli/access.h"
#include "cli/json.h"
#include "engine/record/hash.h"

namespace sazesh::serve {

namespace {

const char* title_of(unsigned status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 431: return "Request Header Fields Too Large";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

}  // namespace

unsigned status_of(const error& e) {
  switch (e.code()) {
    case errc::invalid_argument: return 400;
    case errc::not_found: return 404;
    case errc::unauthorized: return 403;
    case errc::wrong_state:
    case errc::duplicate:
    case errc::conflict:
    case errc::already_exists:
    case errc::deadline_passed: return 409;
    case errc::missing_documents: return 422;
    case errc::corrupt: return 500;
    case errc::io:
    case errc::unavailable: return 503;
  }
  return 500;
}

// RFC 9457 problem details, with the field and rule the CLI prints.
reply problem(unsigned status, const error& e) {
  reply r;
  r.status = status;
  r.content_type = "application/problem+json";
  std::string field = e.field();
  if (field.rfind("--", 0) == 0) field = field.substr(2);  // the CLI's option is the API's member
  r.body = cli::json_object()
               .field("type", fmt::format("urn:sazesh:problem:{}", to_string(e.code())))
               .field("title", title_of(status))
               .field("status", static_cast<std::uint64_t>(status))
               .field("detail", e.message())
               .field("code", to_string(e.code()))
               .field("field", field)
               .field("rule", e.rule())
               .field("retryable", cli::is_retryable(e))
               .str() +
           "\n";
  if (status == 401) r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"sazesh\""});
  if (status == 503) r.headers.push_back({"Retry-After", "1"});
  return r;
}

void metrics::record(const std::string& endpoint, unsigned status, double seconds) {
  std::lock_guard lock(mutex_);
  counts_[{endpoint, status}] += 1;
  auto& h = latency_[endpoint];
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (seconds <= bounds[i]) h.buckets[i] += 1;
  h.count += 1;
  h.sum += seconds;
}

std::string metrics::text(const std::vector<std::pair<std::string, double>>& gauges) {
  std::lock_guard lock(mutex_);
  std::string out = "# HELP sazesh_http_requests_total Requests answered, by endpoint and status.\n"
                    "# TYPE sazesh_http_requests_total counter\n";
  for (const auto& [k, n] : counts_)
    out += fmt::format("sazesh_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, n);
  out += "# HELP sazesh_http_request_seconds Time from a request read to its answer, by endpoint.\n"
         "# TYPE sazesh_http_request_seconds histogram\n";
  for (const auto& [e, h] : latency_) {
    for (std::size_t i = 0; i < bounds.size(); ++i)
      out += fmt::format("sazesh_http_request_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", e, bounds[i], h.buckets[i]);
    out += fmt::format("sazesh_http_request_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n", e, h.count);
    out += fmt::format("sazesh_http_request_seconds_sum{{endpoint=\"{}\"}} {}\n", e, h.sum);
    out += fmt::format("sazesh_http_request_seconds_count{{endpoint=\"{}\"}} {}\n", e, h.count);
  }
  for (const auto& [name, v] : gauges) out += fmt::format("# TYPE {} gauge\n{} {}\n", name, name, v);
  return out;
}

std::string percent_decode(std::string_view s, bool& bad) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) {
        bad = true;
        return out;
      }
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string openapi_document() {
  cli::json_object paths;
  for (const auto& c : cli::commands()) {
    if (c.over_http == cli::command_spec::http::none) continue;
    const bool post = c.over_http == cli::command_spec::http::post;
    cli::json_object props;
    cli::json_array required;
    cli::json_array params;
    for (const auto& o : c.options) {
      const std::string type = o.value.empty() ? "boolean" : "string";
      if (post) {
        props.raw(o.name, o.repeated ? cli::json_object().field("type", "array").raw("items", "{\"type\":\"string\"}").field("description", o.help).str()
                                     : cli::json_object().field("type", type).field("description", o.help).str());
        if (o.required) required.string(o.name);
      } else {
        params.raw(cli::json_object()
                       .field("name", o.name)
                       .field("in", "query")
                       .field("required", o.required)
                       .field("description", o.help)
                       .raw("schema", cli::json_object().field("type", type).str())
                       .str());
      }
    }
    cli::json_object op;
    op.field("summary", c.summary).field("operationId", c.name);
    if (post) {
      op.raw("requestBody", cli::json_object()
                                .field("required", false)
                                .raw("content", cli::json_object()
                                                    .raw("application/json",
                                                         cli::json_object()
                                                             .raw("schema", cli::json_object()
                                                                                .field("type", "object")
                                                                                .raw("properties", props.str())
                                                                                .raw("required", required.str())
                                                                                .field("additionalProperties", false)
                                                                                .str())
                                                             .str())
                                                    .str())
                                .str());
      op.raw("parameters", cli::json_array()
                               .raw(cli::json_object()
                                        .field("name", "Idempotency-Key")
                                        .field("in", "header")
                                        .field("required", false)
                                        .field("description", "the command id: a repeated key repeats nothing")
                                        .raw("schema", "{\"type\":\"string\"}")
                                        .str())
                               .str());
    } else {
      op.raw("parameters", params.str());
    }
    op.raw("responses", R"({"200":{"description":"the command's JSON, as sazesh --json prints it"},)"
                        R"("4XX":{"description":"a problem (RFC 9457) naming the field and the rule"}})");
    // The standings the seal body publishes, and registering, need no credential.
    if (c.name == "register-consumer" || cli::is_public_read(c.name))
      op.raw("security", R"([{},{"bearer":[]}])");
    paths.raw("/v1/" + c.name, cli::json_object().raw(post ? "post" : "get", op.str()).str());
  }
  // Not a command: who the credential signs in.
  paths.raw("/v1/whoami",
            cli::json_object()
                .raw("get", cli::json_object()
                                .field("summary", "the role and id the credential signs in, and its key id")
                                .field("operationId", "whoami")
                                .raw("responses", R"({"200":{"description":"{\"role\":…,\"id\":…,\"key_id\":…}"},)"
                                                  R"("401":{"description":"no or a bad credential"}})")
                                .str())
                .str());
  return cli::json_object()
             .field("openapi", "3.1.0")
             .raw("info", cli::json_object().field("title", "Sazesh").field("version", "1").str())
             .raw("components", R"({"securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}}})")
             .raw("security", R"([{"bearer":[]}])")
             .raw("paths", paths.str())
             .str() +
         "\n";
}

}  // namespace sazesh::serve
