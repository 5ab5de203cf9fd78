// What the service's answers share: problem details, request metrics, the OpenAPI document,
// query-string decoding.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/result.h"

namespace sazesh::serve {

// One answer, before it becomes an HTTP response.
struct reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string endpoint = "other";  // for metrics: /v1/NAME or the fixed path
  std::string actor;               // for the access log
};

// The HTTP status of a refusal or failure.
unsigned status_of(const error& e);
// RFC 9457 problem details, with the field and rule the CLI prints.
reply problem(unsigned status, const error& e);

// Request counts and latency histograms by endpoint, in Prometheus' text format.
class metrics {
 public:
  static constexpr std::array<double, 12> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  void record(const std::string& endpoint, unsigned status, double seconds);
  std::string text(const std::vector<std::pair<std::string, double>>& gauges);

 private:
  struct histogram {
    std::array<std::uint64_t, bounds.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> counts_;
  std::map<std::string, histogram> latency_;
};

// %-decoding of a query-string part ('+' is a space); `bad` is set on a broken escape.
std::string percent_decode(std::string_view s, bool& bad);
// The OpenAPI 3.1 document of every endpoint, from the command table.
std::string openapi_document();

}  // namespace sazesh::serve
