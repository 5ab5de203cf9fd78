// A real `sazesh serve` for the tests: the binary on a random loopback port with a data folder of
// its own, a plain Beast client to call it, and a fixture with the first operator signed in.
#pragma once

// clang-format off
#include <utility>  // before Asio (GCC 12)
// clang-format on
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/app.h"
#include "tests/temp_dir.h"

namespace sazesh::serve_testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct process_result {
  int code = -1;
  std::string out, err;
};

// Runs the binary to completion (for the local commands: the bootstrap, a CLI write).
inline process_result run_binary(const std::vector<std::string>& args) {
  temp_dir io;
  const auto out_path = io.path() / "out", err_path = io.path() / "err";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* o = freopen(out_path.c_str(), "w", stdout);
    FILE* e = freopen(err_path.c_str(), "w", stderr);
    (void)o;
    (void)e;
    std::vector<char*> argv{const_cast<char*>(SAZESH_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SAZESH_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out_path), slurp(err_path)};
}

// The value of a string member `"key":"…"` in a JSON text (the first one), or "".
inline std::string json_str(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto at = json.find(needle);
  if (at == std::string::npos) return "";
  const auto start = at + needle.size();
  return json.substr(start, json.find('"', start) - start);
}

inline std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct response {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

// A running `sazesh serve`, stopped with SIGTERM at the end.
class server {
 public:
  explicit server(const std::filesystem::path& dir, std::vector<std::string> extra = {}) : dir_(dir) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      const std::string err = (dir / "serve.log").string();
      FILE* e = freopen(err.c_str(), "a", stderr);
      (void)e;
      std::vector<std::string> args{SAZESH_BINARY, "--data-dir", dir.string(), "serve", "--listen", "127.0.0.1:0"};
      if (std::find(extra.begin(), extra.end(), "--tick-every") == extra.end()) args.insert(args.end(), {"--tick-every", "0"});
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(SAZESH_BINARY, argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
    // "listening on http://127.0.0.1:PORT"
    std::string line;
    char c;
    while (read(out_, &c, 1) == 1 && c != '\n') line += c;
    const auto colon = line.rfind(':');
    if (line.rfind("listening on http://", 0) != 0) {
      std::ifstream log(dir / "serve.log");
      FAIL("serve printed: ", line, "\nand on stderr: ", std::string(std::istreambuf_iterator<char>(log), {}));
    }
    port_ = static_cast<unsigned short>(std::stoi(line.substr(colon + 1)));
  }
  ~server() {
    if (pid_ > 0) stop();
    if (out_ >= 0) close(out_);
  }
  unsigned short port() const { return port_; }

  // SIGKILL, as a crash: nothing is flushed or finished.
  void kill9() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Sends SIGTERM; the exit code and what it printed after "listening".
  std::pair<int, std::string> stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    std::string rest;
    char buf[256];
    ssize_t n;
    while ((n = read(out_, buf, sizeof buf)) > 0) rest.append(buf, static_cast<std::size_t>(n));
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, rest};
  }

  response call(http::verb method, const std::string& target, const std::string& token = "", const std::string& body = "",
                const std::map<std::string, std::string>& headers = {}) const {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    response out;
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
  }
  response get(const std::string& target, const std::string& token = "") const { return call(http::verb::get, target, token); }
  response post(const std::string& command, const std::string& token, const std::string& body,
                const std::map<std::string, std::string>& headers = {}) const {
    return call(http::verb::post, "/v1/" + command, token, body, headers);
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int out_ = -1;
  unsigned short port_ = 0;
};

// A folder with its first operator, and a server on it.
struct fixture {
  temp_dir dir;
  std::string operator_token;
  std::optional<server> srv;

  fixture(std::vector<std::string> extra = {}) {
    auto boot = run_binary({"--data-dir", dir.path().string(), "account", "bootstrap", "--id", "ali", "--json"});
    REQUIRE_MESSAGE(boot.code == 0, boot.err);
    operator_token = json_str(boot.out, "token");
    REQUIRE(operator_token.rfind("sz_", 0) == 0);
    srv.emplace(dir.path(), std::move(extra));
  }
  const server& s() const { return *srv; }

  // Registers a consumer with no credential; the token the answer carries.
  std::pair<std::string, std::string> consumer(const std::string& national_code, const std::string& mobile) {
    auto r = s().post("register-consumer", "",
                      fmt::format(R"({{"national-code":"{}","mobile":"{}","name":"مریم احمدی"}})", national_code, mobile));
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return {json_str(r.body, "stream"), json_str(r.body, "token")};
  }
  // An operator registers a business and issues its credential.
  std::string business(const std::string& seal, const std::string& domain) {
    auto r = s().post("register-business", operator_token,
                      fmt::format(R"({{"seal-id":"{}","domain":"{}","name":"فروشگاه"}})", seal, domain));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return credential("business", seal);
  }
  std::string credential(const std::string& role, const std::string& id) {
    auto r = s().post("account-create", operator_token, fmt::format(R"({{"role":"{}","id":"{}"}})", role, id));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json_str(r.body, "token");
  }
  std::string file(const std::string& consumer_token, const std::string& seal, const std::string& order) {
    auto r = s().post("file", consumer_token,
                      fmt::format(R"({{"business":"{}","order-ref":"{}","purchase-date":"1405/08/01","amount":2500000,)"
                                  R"("category":"other","description":"کالا خراب رسید"}})",
                                  seal, order));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json_str(r.body, "stream");
  }
};

}  // namespace sazesh::serve_testing
