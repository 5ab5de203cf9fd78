// clang-format off
#include <utility>  // before Asio (GCC 12)
// clang-format on
#include "serve/client.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "cli/json.h"

namespace sazesh::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string percent_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// The member of a JSON problem named `key`, unescaped enough for the CLI's one-line error.
std::string member(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  auto at = json.find(needle);
  if (at == std::string::npos) return "";
  std::string out;
  for (std::size_t i = at + needle.size(); i < json.size() && json[i] != '"'; ++i) {
    if (json[i] == '\\' && i + 1 < json.size()) {
      ++i;
      out += json[i] == 'n' ? '\n' : json[i];
    } else {
      out += json[i];
    }
  }
  return out;
}

errc code_named(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(errc::unavailable); ++i)
    if (name == to_string(static_cast<errc>(i))) return static_cast<errc>(i);
  return errc::io;
}

}  // namespace

int run_remote(cli::session& s, const cli::command_spec& spec, const cli::parsed_args& args, const std::string& url,
               const std::string& token) {
  const auto bad_url = [&] {
    return s.fail(error(errc::invalid_argument, "--server", "must be http://HOST:PORT, e.g. http://127.0.0.1:8080"));
  };
  if (url.rfind("http://", 0) != 0) return bad_url();
  std::string hostport = url.substr(7);
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos || colon == 0 || hostport.find('/') != std::string::npos) return bad_url();
  const std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);

  const bool post = spec.over_http == cli::command_spec::http::post;
  std::string target = "/v1/" + spec.name, body;
  if (post) {
    cli::json_object o;
    for (const auto& [name, values] : args.values()) {
      const auto opt = std::find_if(spec.options.begin(), spec.options.end(), [&](const cli::option_spec& x) { return x.name == name; });
      if (opt != spec.options.end() && opt->value.empty()) o.field(name, true);
      else if (opt != spec.options.end() && opt->repeated) {
        cli::json_array a;
        for (const auto& v : values) a.string(v);
        o.raw(name, a.str());
      } else {
        o.field(name, values.back());
      }
    }
    body = o.str();
  } else {
    char sep = '?';
    for (const auto& [name, values] : args.values())
      for (const auto& v : values) {
        target += sep + percent_encode(name) + "=" + percent_encode(v);
        sep = '&';
      }
  }

  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto where = resolver.resolve(host, port, ec);
  const auto unreachable = [&](const std::string& what) {
    return s.fail(error(errc::unavailable, "--server", fmt::format("{} did not answer: {}", url, what)));
  };
  if (ec) return unreachable(ec.message());
  stream.expires_after(std::chrono::seconds(60));
  stream.connect(where, ec);
  if (ec) return unreachable(ec.message());
  http::request<http::string_body> req{post ? http::verb::post : http::verb::get, target, 11};
  req.set(http::field::host, hostport);
  req.set(http::field::user_agent, "sazesh-cli");
  req.set(http::field::accept, s.json ? "application/json" : s.csv ? "text/csv" : "text/plain");
  if (s.persian_digits_asked) req.set("X-Digits", "persian");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (post) {
    req.set(http::field::content_type, "application/json");
    req.set("Idempotency-Key", s.command_id);
  }
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024ull * 1024 * 1024);
  http::read(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  const auto& res = parser.get();
  if (res.result_int() / 100 == 2) {
    s.out << res.body();
    return cli::exit_ok;
  }
  const std::string& p = res.body();
  std::string field = member(p, "field");
  const errc code = code_named(member(p, "code"));
  // Problems name the API's members; the CLI's options start "--" where they are usage errors.
  return s.fail(error(code, field, member(p, "rule")));
}

}  // namespace sazesh::serve
