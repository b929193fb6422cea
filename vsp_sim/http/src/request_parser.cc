#include "vscsim/http/request_parser.h"

#include <algorithm>
#include <limits>
#include <ostream>

namespace vscsim::http {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// A control byte that may not appear in a header value (HTAB may).
bool is_forbidden_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls `each` with every comma-separated element of a list header value,
// blanks trimmed, empty elements skipped.
template <class F>
void for_each_element(std::string_view value, F each) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view element = trim_blanks(value.substr(0, comma));
    if (!element.empty()) each(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

const std::string* Request::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return &value;
  }
  return nullptr;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int high = hex_value(in[i + 1]);
    const int low = hex_value(in[i + 2]);
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

std::ostream& operator<<(std::ostream& os, RequestParser::State state) {
  switch (state) {
    case RequestParser::State::kHead: return os << "head";
    case RequestParser::State::kBody: return os << "body";
    case RequestParser::State::kDone: return os << "done";
    case RequestParser::State::kFailed: return os << "failed";
  }
  return os << "state " << static_cast<int>(state);
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::reset() {
  state_ = State::kHead;
  error_ = {};
  request_ = {};
  line_.clear();
  head_bytes_ = 0;
  have_request_line_ = false;
  body_remaining_ = 0;
}

Request RequestParser::take() {
  Request done = std::move(request_);
  reset();
  return done;
}

void RequestParser::fail(int status, std::string message) {
  if (state_ == State::kFailed) return;  // the first reason stands
  state_ = State::kFailed;
  error_ = ParseError{status, std::move(message)};
}

std::size_t RequestParser::feed(std::string_view bytes) {
  std::size_t used = 0;
  // Each pass consumes at least one byte or changes the state to one that
  // ends the loop, so the loop is bounded by bytes.size().
  while (used < bytes.size()) {
    if (state_ == State::kHead) {
      used += feed_head(bytes.substr(used));
    } else if (state_ == State::kBody) {
      used += feed_body(bytes.substr(used));
    } else {
      break;
    }
  }
  return used;
}

std::size_t RequestParser::feed_head(std::string_view bytes) {
  const std::size_t newline = bytes.find('\n');
  const std::size_t take = newline == std::string_view::npos ? bytes.size() : newline + 1;
  if (take > limits_.max_head_bytes - std::min(head_bytes_, limits_.max_head_bytes)) {
    fail(431, "the request line and headers are longer than " + std::to_string(limits_.max_head_bytes) +
                  " bytes");
    return take;
  }
  head_bytes_ += take;
  if (newline == std::string_view::npos) {
    line_.append(bytes);
    return take;
  }
  line_.append(bytes.substr(0, newline));
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  const std::string line = std::move(line_);
  line_.clear();
  on_line(line);
  return take;
}

std::size_t RequestParser::feed_body(std::string_view bytes) {
  const std::size_t take =
      static_cast<std::size_t>(std::min<std::uint64_t>(body_remaining_, bytes.size()));
  request_.body.append(bytes.substr(0, take));
  body_remaining_ -= take;
  if (body_remaining_ == 0) state_ = State::kDone;
  return take;
}

void RequestParser::on_line(std::string_view line) {
  if (line.find('\r') != std::string_view::npos) {
    fail(400, "a carriage return inside a line of the request head");
    return;
  }
  if (!have_request_line_) {
    // Blank lines before a request are tolerated (a client's stray CRLF
    // after the previous body); the head limit bounds how many.
    if (!line.empty()) parse_request_line(line);
    return;
  }
  if (line.empty()) {
    finish_head();
  } else {
    parse_header_line(line);
  }
}

void RequestParser::parse_request_line(std::string_view line) {
  have_request_line_ = true;
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    fail(400, "the request line is not 'METHOD /target HTTP/1.1'");
    return;
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!is_token(method)) {
    fail(400, "the method is not a token");
    return;
  }
  if (target.empty() || target.front() != '/') {
    fail(400, "the request target must be a path starting with '/'");
    return;
  }
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      fail(400, "the request target holds a byte that is not visible ASCII (percent-encode it)");
      return;
    }
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    fail(400, "the request line does not end in a version like HTTP/1.1");
    return;
  }
  if (version[5] != '1') {
    fail(505, "HTTP version " + std::string(version.substr(5)) + " is not supported; use HTTP/1.1");
    return;
  }
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.minor_version = std::min(version[7] - '0', 1);
}

void RequestParser::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    fail(400, "folded header lines (starting with a blank) are not supported");
    return;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    fail(400, "a header line without ':'");
    return;
  }
  const std::string_view name = line.substr(0, colon);
  if (!is_token(name)) {
    fail(400, "a header name that is not a token (no blanks before ':')");
    return;
  }
  const std::string_view value = trim_blanks(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), is_forbidden_control)) {
    fail(400, "a control byte in the value of header '" + std::string(name) + "'");
    return;
  }
  request_.headers.emplace_back(lower(name), std::string(value));
}

void RequestParser::finish_head() {
  Request& r = request_;
  int hosts = 0;
  bool connection_close = false;
  bool connection_keep_alive = false;
  const std::string* length_text = nullptr;
  for (const auto& [name, value] : r.headers) {
    if (name == "transfer-encoding") {
      fail(501, "Transfer-Encoding '" + value + "' is not supported; send a Content-Length body");
      return;
    }
    if (name == "host") ++hosts;
    if (name == "content-length") {
      if (length_text != nullptr && *length_text != value) {
        fail(400, "conflicting Content-Length headers");
        return;
      }
      length_text = &value;
    }
    if (name == "connection") {
      for_each_element(value, [&](std::string_view option) {
        if (equals_ignoring_case(option, "close")) connection_close = true;
        if (equals_ignoring_case(option, "keep-alive")) connection_keep_alive = true;
      });
    }
    if (name == "expect" && equals_ignoring_case(value, "100-continue")) r.expect_continue = true;
  }
  if (r.minor_version >= 1 && hosts != 1) {
    fail(400, hosts == 0 ? "an HTTP/1.1 request needs a Host header" : "more than one Host header");
    return;
  }
  if (length_text != nullptr) {
    if (length_text->empty() ||
        !std::all_of(length_text->begin(), length_text->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      fail(400, "Content-Length '" + *length_text + "' is not a decimal number");
      return;
    }
    std::uint64_t length = 0;
    for (char c : *length_text) {
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (length > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
        length = std::numeric_limits<std::uint64_t>::max();
        break;
      }
      length = length * 10 + digit;
    }
    if (length > limits_.max_body_bytes) {
      fail(413, "a body of " + *length_text + " bytes is over the limit of " +
                    std::to_string(limits_.max_body_bytes));
      return;
    }
    r.has_content_length = true;
    r.content_length = length;
  }
  r.keep_alive = r.minor_version >= 1 ? !connection_close : (connection_keep_alive && !connection_close);
  r.expect_continue = r.expect_continue && r.content_length > 0;
  body_remaining_ = r.content_length;
  // Reserve no more than has to arrive soon: a client that announces 64 MiB
  // and sends nothing costs no memory.
  r.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(r.content_length, 64 * 1024)));
  state_ = body_remaining_ == 0 ? State::kDone : State::kBody;
}

}  // namespace vscsim::http
