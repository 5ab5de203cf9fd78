// clang-format off
#include <utility>  // before Asio (GCC 12)
// clang-format on
#include "serve/client.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "cli/json.h"
#include "engine/log/document_store.h"

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


// One request to the server on a fresh connection; the response, or why there was none.
struct exchange {
  std::string host, hostport;
  std::string port;
  std::string url;
};

result<http::response<http::string_body>> call(const exchange& x, http::request<http::string_body>& req) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto unreachable = [&](const std::string& what) {
    return error(errc::unavailable, "--server", fmt::format("{} did not answer: {}", x.url, what));
  };
  const auto where = resolver.resolve(x.host, x.port, ec);
  if (ec) return unreachable(ec.message());
  stream.expires_after(std::chrono::seconds(60));
  stream.connect(where, ec);
  if (ec) return unreachable(ec.message());
  req.set(http::field::host, x.hostport);
  req.set(http::field::user_agent, "sazesh-cli");
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return unreachable(ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024ull * 1024 * 1024);
  http::read(stream, buffer, parser, ec);
  if (ec) return unreachable(ec.message());
  return parser.release();
}

// A problem the server answered, as the error the CLI reports.
error problem_error(const std::string& p) {
  return error(code_named(member(p, "code")), member(p, "field"), member(p, "rule"));
}

// The type a document is sent as, from its name: what the server accepts, or what it refuses.
std::string content_type_of(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".pdf") return "application/pdf";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".png") return "image/png";
  if (ext == ".webp") return "image/webp";
  if (ext == ".txt") return "text/plain";
  return "application/octet-stream";
}

// A local file named by --document or --file, uploaded first (POST /v1/documents); the
// reference the server gave it, which the command then names instead of the path.
result<std::string> upload(const exchange& x, const std::string& token, const std::string& field, const std::string& path) {
  if (auto ok = check_document_file(path, field); !ok) return ok.error();
  std::ifstream in(path, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  if (!in.good() && !in.eof()) return error(errc::io, field, fmt::format("{} cannot be read", path));
  const std::string name = std::filesystem::path(path).filename().string();
  http::request<http::string_body> req{http::verb::post, "/v1/documents?name=" + percent_encode(name), 11};
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.set(http::field::content_type, content_type_of(path));
  req.set(http::field::accept, "application/json");
  req.body() = std::move(bytes);
  auto res = call(x, req);
  if (!res) return res.error();
  if (res->result_int() / 100 != 2) return problem_error(res->body());
  const std::string reference = member(res->body(), "reference");
  if (reference.empty()) return error(errc::io, field, "the server gave the document no reference");
  return reference;
}

}  // namespace

int run_remote(cli::session& s, const cli::command_spec& spec, const cli::parsed_args& args, const std::string& url,
               const std::string& token) {
  const auto bad_url = [&] {
    return s.fail(error(errc::invalid_argument, "--server", "must be http://HOST:PORT, e.g. http://127.0.0.1:8080"));
  };
  if (url.rfind("http://", 0) != 0) return bad_url();
  exchange x;
  x.url = url;
  x.hostport = url.substr(7);
  while (!x.hostport.empty() && x.hostport.back() == '/') x.hostport.pop_back();
  const auto colon = x.hostport.rfind(':');
  if (colon == std::string::npos || colon == 0 || x.hostport.find('/') != std::string::npos) return bad_url();
  x.host = x.hostport.substr(0, colon);
  x.port = x.hostport.substr(colon + 1);

  const bool post = spec.over_http == cli::command_spec::http::post;
  std::string target = "/v1/" + spec.name, body;
  if (post) {
    cli::json_object o;
    for (const auto& [name, given] : args.values()) {
      std::vector<std::string> values = given;
      // Files are the client's: each goes up first and the command names what it became.
      if (name == "document" || name == "file") {
        for (auto& v : values) {
          const auto eq = name == "document" ? v.find('=') : std::string::npos;
          const std::string path = eq == std::string::npos ? v : v.substr(eq + 1);
          if (path.rfind("sha256:", 0) == 0) continue;
          auto reference = upload(x, token, name, path);
          if (!reference) return s.fail(reference.error());
          v = (eq == std::string::npos ? "" : v.substr(0, eq + 1)) + *reference;
        }
      }
      const auto opt = std::find_if(spec.options.begin(), spec.options.end(), [&](const cli::option_spec& spec_option) { return spec_option.name == name; });
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

  http::request<http::string_body> req{post ? http::verb::post : http::verb::get, target, 11};
  req.set(http::field::accept, s.json ? "application/json" : s.csv ? "text/csv" : "text/plain");
  if (s.persian_digits_asked) req.set("X-Digits", "persian");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (post) {
    req.set(http::field::content_type, "application/json");
    req.set("Idempotency-Key", s.command_id);
  }
  req.body() = body;
  auto res = call(x, req);
  if (!res) return s.fail(res.error());
  if (res->result_int() / 100 == 2) {
    s.out << res->body();
    return cli::exit_ok;
  }
  return s.fail(problem_error(res->body()));
}

}  // namespace sazesh::serve
