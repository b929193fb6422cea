#include "vscsim/azblob/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vscsim::azblob {
namespace {

constexpr std::size_t kMaxAnswerHead = 16 * 1024;
constexpr std::size_t kReceiveChunk = 64 * 1024;

Error http_error(std::string message, int http_status = 0) {
  return Error{.kind = ErrorKind::kHttp, .message = std::move(message), .http_status = http_status};
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

void append_encoded(std::string& out, std::string_view name, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

bool same_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// A decimal header value; false if it is anything else or does not fit.
bool parse_decimal(std::string_view text, std::uint64_t& value) {
  if (text.empty() || text.size() > 19) return false;
  value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// The server's reason for a refusal, safe to print on one line.
std::string reason_of(const std::vector<std::byte>& body) {
  std::string text;
  for (std::byte b : body) {
    if (text.size() == 200) {
      text += "...";
      break;
    }
    const auto c = static_cast<char>(b);
    if (c == '\n' && text.size() + 1 == body.size()) break;  // the line's own end
    text.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return text;
}

Error unexpected(std::string_view what, const HttpAnswer& answer) {
  std::string reason = reason_of(answer.body);
  return http_error(std::string(what) + ": HTTP " + std::to_string(answer.status) + (reason.empty() ? "" : ": ") +
                        reason,
                    answer.status);
}

}  // namespace

Result<HttpEndpoint> parse_http_endpoint(std::string_view text) {
  HttpEndpoint endpoint;
  std::string_view host, port;
  const std::size_t colon = text.rfind(':');
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || colon != close + 1) {
      return Err(http_error("'" + std::string(text) + "' is not [IPV6]:PORT"));
    }
    host = text.substr(1, close - 1);
    endpoint.ipv6 = true;
  } else {
    if (colon == std::string_view::npos) return Err(http_error("'" + std::string(text) + "' is not HOST:PORT"));
    host = text.substr(0, colon);
  }
  port = text.substr(colon + 1);
  std::uint64_t number = 0;
  if (!parse_decimal(port, number) || number == 0 || number > 65535) {
    return Err(http_error("'" + std::string(text) + "': the port must be a number from 1 to 65535"));
  }
  endpoint.host = std::string(host);
  endpoint.port = static_cast<std::uint16_t>(number);
  unsigned char probe[sizeof(in6_addr)];
  if (::inet_pton(endpoint.ipv6 ? AF_INET6 : AF_INET, endpoint.host.c_str(), probe) != 1) {
    return Err(http_error("'" + std::string(text) + "': the host must be a numeric " +
                          (endpoint.ipv6 ? "IPv6" : "IPv4") + " address (no name lookup)"));
  }
  return endpoint;
}

std::string blob_target(std::string_view container, std::string_view blob) {
  std::string target = "/";
  append_encoded(target, container, false);
  target.push_back('/');
  append_encoded(target, blob, true);
  return target;
}

Result<HttpConnection> HttpConnection::connect(HttpEndpoint endpoint, std::chrono::milliseconds timeout) {
  HttpConnection connection(std::move(endpoint), timeout);
  if (auto opened = connection.open(); !opened) return Err(std::move(opened).error());
  return connection;
}

HttpConnection::HttpConnection(HttpConnection&& other) noexcept
    : endpoint_(std::move(other.endpoint_)),
      timeout_(other.timeout_),
      fd_(std::exchange(other.fd_, -1)),
      in_(std::move(other.in_)),
      in_at_(std::exchange(other.in_at_, 0)) {}

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    close();
    endpoint_ = std::move(other.endpoint_);
    timeout_ = other.timeout_;
    fd_ = std::exchange(other.fd_, -1);
    in_ = std::move(other.in_);
    in_at_ = std::exchange(other.in_at_, 0);
  }
  return *this;
}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
  in_at_ = 0;
}

Error HttpConnection::failure(std::string_view what, int err) const {
  const std::string where =
      (endpoint_.ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" + std::to_string(endpoint_.port);
  // A receive timeout shows as EAGAIN: say what it means.
  const std::string why = err == EAGAIN || err == EWOULDBLOCK
                              ? "no answer within " + std::to_string(timeout_.count()) + " ms (ETIMEDOUT)"
                              : std::string(std::strerror(err)) + " (" + errno_name(err) + ")";
  Error e = http_error(std::string(what) + " " + where + ": " + why);
  e.sys_errno = err;
  return e;
}

Result<void> HttpConnection::open() {
  close();
  const int family = endpoint_.ipv6 ? AF_INET6 : AF_INET;
  fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Err(failure("socket for", errno));
  if (timeout_.count() > 0) {
    const timeval tv{.tv_sec = static_cast<time_t>(timeout_.count() / 1000),
                     .tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
    // Linux bounds connect() by the send timeout too.
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  // A request's head and body leave together, and its answer must not wait
  // for the acknowledgement of the previous one.
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage address{};
  socklen_t length = 0;
  if (endpoint_.ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&address);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(endpoint_.port);
    ::inet_pton(AF_INET6, endpoint_.host.c_str(), &a->sin6_addr);
    length = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&address);
    a->sin_family = AF_INET;
    a->sin_port = htons(endpoint_.port);
    ::inet_pton(AF_INET, endpoint_.host.c_str(), &a->sin_addr);
    length = sizeof *a;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    const int err = errno;
    close();
    return Err(failure("connect to", err));
  }
  return Ok<Error>();
}

Result<void> HttpConnection::send_request(std::string_view head, std::span<const std::byte> body) {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<std::byte*>(body.data()), body.size()}};
  std::size_t first = 0;
  while (first < 2) {
    msghdr message{};
    message.msg_iov = parts + first;
    message.msg_iovlen = 2 - first;
    const ssize_t sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return Err(failure("send to", errno));
    }
    auto left = static_cast<std::size_t>(sent);
    while (first < 2 && left >= parts[first].iov_len) {
      left -= parts[first].iov_len;
      ++first;
    }
    if (first < 2) {
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
      parts[first].iov_len -= left;
    }
  }
  return Ok<Error>();
}

Result<bool> HttpConnection::receive() {
  if (in_at_ == in_.size()) {
    in_.clear();
    in_at_ = 0;
  }
  const std::size_t had = in_.size();
  in_.resize(had + kReceiveChunk);
  for (;;) {
    const ssize_t got = ::recv(fd_, in_.data() + had, kReceiveChunk, 0);
    if (got < 0 && errno == EINTR) continue;
    in_.resize(had + static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
    if (got < 0) return Err(failure("receive from", errno));
    return got > 0;
  }
}

Result<HttpAnswer> HttpConnection::read_answer(bool* server_closes) {
  // Interim answers (100 Continue) come before the real one; each costs at
  // least a head's worth of bytes, so the loop ends with the input.
  for (;;) {
    std::size_t end = std::string_view::npos;
    for (;;) {
      const std::string_view pending(in_.data() + in_at_, in_.size() - in_at_);
      end = pending.find("\r\n\r\n");
      if (end != std::string_view::npos) break;
      if (pending.size() > kMaxAnswerHead) return Err(http_error("an answer head longer than 16 KiB"));
      auto more = receive();
      if (!more) return Err(std::move(more).error());
      if (!*more) return Err(http_error("the server closed the connection before answering"));
    }
    const std::string_view head(in_.data() + in_at_, end);
    in_at_ += end + 4;

    HttpAnswer answer;
    std::size_t line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    std::uint64_t status = 0;
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        !parse_decimal(status_line.substr(9, 3), status) || (status_line.size() > 12 && status_line[12] != ' ')) {
      return Err(http_error("a malformed status line in the answer"));
    }
    answer.status = static_cast<int>(status);
    bool has_length = false;
    std::uint64_t length = 0;
    *server_closes = status_line[7] == '0';
    while (line_end != std::string_view::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string_view line = head.substr(start, line_end == std::string_view::npos ? line_end : line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return Err(http_error("an answer header line without ':'"));
      const std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (same_ignoring_case(name, "content-length")) {
        if (!parse_decimal(value, length)) return Err(http_error("a malformed Content-Length in the answer"));
        has_length = true;
      } else if (same_ignoring_case(name, "x-generation")) {
        if (!parse_decimal(value, answer.generation)) return Err(http_error("a malformed x-generation in the answer"));
      } else if (same_ignoring_case(name, "connection")) {
        if (same_ignoring_case(value, "close")) *server_closes = true;
        if (same_ignoring_case(value, "keep-alive")) *server_closes = false;
      }
    }
    if (answer.status >= 100 && answer.status < 200) continue;
    if (answer.status == 204) length = 0;
    else if (!has_length) return Err(http_error("an answer without Content-Length"));

    // The bytes already here first, then the rest straight into the body.
    answer.body.resize(length);
    const std::size_t here = std::min<std::size_t>(length, in_.size() - in_at_);
    if (here > 0) std::memcpy(answer.body.data(), in_.data() + in_at_, here);
    in_at_ += here;
    for (std::size_t got = here; got < length;) {
      const ssize_t n = ::recv(fd_, answer.body.data() + got, length - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Err(failure("receive from", errno));
      if (n == 0) {
        return Err(http_error("the server closed the connection " + std::to_string(length - got) +
                              " bytes before the end of the answer"));
      }
      got += static_cast<std::size_t>(n);
    }
    return answer;
  }
}

Result<HttpAnswer> HttpConnection::request(std::string_view method, std::string_view target,
                                           std::span<const std::byte> body) {
  if (fd_ < 0) {
    if (auto opened = open(); !opened) return Err(std::move(opened).error());
  }
  std::string head = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: " +
                     (endpoint_.ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" +
                     std::to_string(endpoint_.port) + "\r\n";
  if (method == "PUT" || !body.empty()) head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  head += "\r\n";
  bool server_closes = false;
  auto sent = send_request(head, body);
  Result<HttpAnswer> answer = sent ? read_answer(&server_closes) : Result<HttpAnswer>(Err(std::move(sent).error()));
  // After a failure the stream's position is unknown: start afresh next time.
  if (!answer || server_closes) close();
  return answer;
}

Result<void> HttpConnection::create_container(std::string_view container, bool exists_ok) {
  std::string target = "/";
  append_encoded(target, container, false);
  const std::string what = "create container " + std::string(container);
  auto answer = request("PUT", target);
  if (!answer) return Err(with_context(std::move(answer).error(), what));
  if (answer->status != 201 && !(exists_ok && answer->status == 409)) return Err(unexpected(what, *answer));
  return Ok<Error>();
}

Result<std::uint64_t> HttpConnection::put(std::string_view container, std::string_view blob,
                                          std::span<const std::byte> bytes) {
  const std::string what = "put " + std::string(container) + "/" + std::string(blob);
  auto answer = request("PUT", blob_target(container, blob), bytes);
  if (!answer) return Err(with_context(std::move(answer).error(), what));
  if (answer->status != 201) return Err(unexpected(what, *answer));
  return answer->generation;
}

Result<std::vector<std::byte>> HttpConnection::get(std::string_view container, std::string_view blob) {
  const std::string what = "get " + std::string(container) + "/" + std::string(blob);
  auto answer = request("GET", blob_target(container, blob));
  if (!answer) return Err(with_context(std::move(answer).error(), what));
  if (answer->status != 200) return Err(unexpected(what, *answer));
  return std::move(answer->body);
}

}  // namespace vscsim::azblob
