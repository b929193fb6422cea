// Fuzzes the blob HTTP server's request parser (vsp_sim/http): a connection's
// bytes, which on the simulator's host come from any local process or, through
// QEMU user networking, from the guest. The first input byte picks how the
// rest is split into reads; the rest is the stream.
//
// Beyond "no crash", it checks what the parser claims:
//   - it never consumes more than it is given, and consumes nothing once done
//     or refused;
//   - the outcome does not depend on how the stream is split: fed whole and
//     fed in pieces, the same requests come out, then the same refusal;
//   - an accepted request has a token method, a '/' target of visible ASCII
//     and exactly its Content-Length of body; a refusal is one of the
//     statuses the parser documents, with a one-line message;
//   - nothing is accepted past the head or body limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/http/request_parser.h"

using namespace vscsim::http;

namespace {

constexpr ParserLimits kLimits{.max_head_bytes = 512, .max_body_bytes = 256};

// One parse of the stream: each request as "method target body", then the
// refusal, if any, as "!status message".
std::vector<std::string> outcome(std::string_view stream, std::size_t step) {
  RequestParser parser(kLimits);
  std::vector<std::string> seen;
  std::string pending;  // offered to the parser, not yet consumed
  std::size_t offered = 0;
  // Bounded: every pass offers at least one new byte or takes a request.
  for (std::size_t guard = 0; guard < 4 * stream.size() + 8; ++guard) {
    if (parser.state() == RequestParser::State::kDone) {
      const Request r = parser.take();
      const auto tchar = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
      };
      if (r.method.empty()) std::abort();
      for (char c : r.method) {
        if (!tchar(c)) std::abort();
      }
      if (r.target.empty() || r.target.front() != '/') std::abort();
      for (char c : r.target) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) std::abort();
      }
      if (r.body.size() != r.content_length || r.content_length > kLimits.max_body_bytes) std::abort();
      if (r.expect_continue && r.content_length == 0) std::abort();
      seen.push_back(r.method + " " + r.target + " " + r.body);
      continue;
    }
    if (parser.state() == RequestParser::State::kFailed) {
      const ParseError& e = parser.error();
      if (e.status != 400 && e.status != 413 && e.status != 431 && e.status != 501 && e.status != 505) std::abort();
      if (e.message.empty() || e.message.find('\n') != std::string::npos) std::abort();
      if (parser.feed("GET / HTTP/1.1\r\n") != 0) std::abort();
      seen.push_back("!" + std::to_string(e.status) + " " + e.message);
      return seen;
    }
    if (pending.empty()) {
      if (offered == stream.size()) return seen;  // the stream ended mid-request (or between requests)
      pending = std::string(stream.substr(offered, step));
      offered += pending.size();
    }
    const std::size_t used = parser.feed(pending);
    if (used > pending.size()) std::abort();
    pending.erase(0, used);
  }
  std::abort();  // the loop bound was reached: the parser stopped making progress
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 17;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  if (outcome(stream, stream.size() + 1) != outcome(stream, step)) std::abort();

  std::string decoded;
  if (percent_decode(stream, decoded) && decoded.size() > stream.size()) std::abort();
  return 0;
}
