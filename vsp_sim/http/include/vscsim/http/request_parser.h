// An incremental HTTP/1.1 request parser for the simulator's blob HTTP server
// (blob_http_server.h). It takes a connection's bytes as they arrive, in any
// split, and stops at the end of one request, so the bytes after it belong to
// the next one (pipelining): the caller keeps them and feeds them again after
// take().
//
// What it accepts, and nothing more (every refusal is a status and a one-line
// reason for the client, never an exception):
//   - request line `METHOD SP /target SP HTTP/1.x`, single spaces, an
//     origin-form target of visible ASCII; HTTP/1.0 and 1.1 (a later 1.x is
//     taken as 1.1); another major version is 505;
//   - header lines `name: value`, a token name with no space before the
//     colon, values without control bytes; folded lines are refused;
//     lines end in CRLF or a bare LF; empty lines before the request line are
//     skipped;
//   - the request line and headers together at most max_head_bytes (431);
//   - bodies by Content-Length only, at most max_body_bytes (413); any
//     Transfer-Encoding is 501; conflicting or malformed lengths are 400;
//   - HTTP/1.1 requires exactly one Host header;
//   - keep-alive: the default in 1.1, `Connection: close` ends it; in 1.0
//     only `Connection: keep-alive` keeps it.
// Memory: the head is held until it is complete (bounded by max_head_bytes);
// the body grows as its bytes arrive, never ahead of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vscsim::http {

inline constexpr std::size_t kDefaultMaxHeadBytes = 16 * 1024;
inline constexpr std::uint64_t kDefaultMaxBodyBytes = std::uint64_t{64} << 20;  // 64 MiB

struct ParserLimits {
  std::size_t max_head_bytes = kDefaultMaxHeadBytes;
  std::uint64_t max_body_bytes = kDefaultMaxBodyBytes;
};

// Why a request was refused: the status to answer and what was wrong.
struct ParseError {
  int status = 400;
  std::string message;
};

struct Request {
  std::string method;
  std::string target;  // as sent, still percent-encoded
  int minor_version = 1;
  // In arrival order; names lower-cased, values without surrounding blanks.
  std::vector<std::pair<std::string, std::string>> headers;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;  // `Expect: 100-continue` with a body to come
  std::string body;

  // The first value of header `lower_case_name`, or nullptr.
  [[nodiscard]] const std::string* header(std::string_view lower_case_name) const;
};

class RequestParser {
 public:
  // kHead: reading the request line and headers; kBody: the head is complete
  // and accepted, body bytes are due; kDone: one whole request is ready;
  // kFailed: the bytes are not a request this parser accepts (error() says
  // why); nothing more is consumed until reset().
  enum class State { kHead, kBody, kDone, kFailed };

  explicit RequestParser(ParserLimits limits = {});

  // Consumes bytes from the front of `bytes` and returns how many. Stops at
  // the end of one request (kDone) or at the first refusal (kFailed); in
  // either of those states it consumes nothing.
  std::size_t feed(std::string_view bytes);

  [[nodiscard]] State state() const { return state_; }
  // kFailed only.
  [[nodiscard]] const ParseError& error() const { return error_; }
  // The request so far: its head fields from kBody on, its body once kDone.
  [[nodiscard]] const Request& request() const { return request_; }
  // Body bytes still due in kBody.
  [[nodiscard]] std::uint64_t body_remaining() const { return body_remaining_; }
  // Whether any byte of a request has been consumed since the last take() or
  // reset() (a connection that ends now ends mid-request).
  [[nodiscard]] bool started() const { return head_bytes_ > 0 || state_ != State::kHead; }

  // kDone only: hands over the request and starts on the next one.
  Request take();
  // Forgets everything (after a refusal, or to reuse the parser).
  void reset();

 private:
  std::size_t feed_head(std::string_view bytes);
  std::size_t feed_body(std::string_view bytes);
  void on_line(std::string_view line);
  void parse_request_line(std::string_view line);
  void parse_header_line(std::string_view line);
  void finish_head();
  void fail(int status, std::string message);

  ParserLimits limits_;
  State state_ = State::kHead;
  ParseError error_;
  Request request_;
  std::string line_;           // the current head line, without its end
  std::size_t head_bytes_ = 0;  // head bytes seen, line ends included
  bool have_request_line_ = false;
  std::uint64_t body_remaining_ = 0;
};

// "head", "body", "done", "failed" (test and log output).
std::ostream& operator<<(std::ostream& os, RequestParser::State state);

// Decodes %XX escapes (either case of hex digit). A '%' not followed by two
// hex digits is refused: the value is false and `out` is unspecified.
[[nodiscard]] bool percent_decode(std::string_view in, std::string& out);

}  // namespace vscsim::http
