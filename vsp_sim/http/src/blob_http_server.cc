#include "vscsim/http/blob_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>
#include <utility>

#include "vscsim/base/log.h"

namespace vscsim::http {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDrainTime = std::chrono::seconds(2);

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

int status_for(blobstore::ErrorCode code) {
  using blobstore::ErrorCode;
  switch (code) {
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotEmpty: return 409;
    case ErrorCode::kNoSpace: return 507;
    case ErrorCode::kOutOfRange:      // the server reads whole blobs: neither
    case ErrorCode::kBufferTooSmall:  // is reachable, and both would be its bug
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

// An error body is one line; names in store messages may hold any UTF-8,
// line breaks and other control bytes included.
std::string one_line(std::string_view message) {
  std::string line(message);
  for (char& c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  line.push_back('\n');
  return line;
}

// What an answer says besides its status and body.
struct AnswerHead {
  int status = 200;
  std::uint64_t content_length = 0;
  bool text = false;                  // Content-Type: text/plain (error messages)
  bool octets = false;                // Content-Type: application/octet-stream (blob bytes)
  std::uint64_t generation = 0;       // x-generation, when not 0
  std::string_view allow{};           // Allow, for 405
  bool close = false;                 // Connection: close
  bool keep_alive_header = false;     // Connection: keep-alive (an HTTP/1.0 client)
};

std::string format_head(const AnswerHead& h) {
  std::string s = "HTTP/1.1 " + std::to_string(h.status) + " " + std::string(reason_phrase(h.status)) + "\r\n";
  // A 204 has no body and, by RFC 9110, no Content-Length either.
  if (h.status != 204) s += "Content-Length: " + std::to_string(h.content_length) + "\r\n";
  if (h.text) s += "Content-Type: text/plain; charset=utf-8\r\n";
  if (h.octets) s += "Content-Type: application/octet-stream\r\n";
  if (h.generation != 0) s += "x-generation: " + std::to_string(h.generation) + "\r\n";
  if (!h.allow.empty()) s += "Allow: " + std::string(h.allow) + "\r\n";
  if (h.close) s += "Connection: close\r\n";
  if (h.keep_alive_header) s += "Connection: keep-alive\r\n";
  s += "\r\n";
  return s;
}

bool is_loopback(const ListenAddress& a) {
  if (a.ipv6) {
    in6_addr addr{};
    return ::inet_pton(AF_INET6, a.host.c_str(), &addr) == 1 && IN6_IS_ADDR_LOOPBACK(&addr);
  }
  in_addr addr{};
  return ::inet_pton(AF_INET, a.host.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

std::string errno_text(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

Result<ListenAddress, std::string> parse_listen_address(std::string_view text) {
  std::string_view host, port;
  ListenAddress address;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Err("'" + std::string(text) + "' is not [IPV6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    address.ipv6 = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Err("'" + std::string(text) + "' is not HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Err("'" + std::string(text) + "': an IPv6 address goes in brackets, e.g. [::1]:8080");
    }
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos || std::stoul(std::string(port)) > 65535) {
    return Err("port '" + std::string(port) + "' is not a number from 0 to 65535");
  }
  address.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
  address.host = host == "localhost" ? std::string("127.0.0.1") : std::string(host);
  if (!is_loopback(address)) {
    return Err("host '" + std::string(host) +
               "' is not a loopback address (127.0.0.0/8, localhost or [::1]): the blob HTTP server has no "
               "authentication and serves this machine only");
  }
  return address;
}

struct BlobHttpServer::Connection {
  transport::UniqueFd fd;
  RequestParser parser;
  std::string in;   // read, not yet taken by the parser
  std::string out;  // answers; bytes before out_sent are sent
  std::size_t out_sent = 0;
  bool peer_done = false;  // the client will send nothing more (EOF)
  bool closing = false;    // no more requests: send what is queued, then close
  bool draining = false;   // answer sent, write side shut: reading to EOF before closing
  bool broken = false;     // a socket error: close at once
  bool pending = false;    // requests may wait in `in` (the per-poll cap stopped us)
  bool continue_sent = false;
  std::size_t drained = 0;
  Clock::time_point drain_until{};

  explicit Connection(transport::UniqueFd f, ParserLimits limits) : fd(std::move(f)), parser(limits) {}
  [[nodiscard]] bool out_pending() const { return out_sent < out.size(); }
  [[nodiscard]] bool wants_read() const {
    return draining || (!closing && !peer_done && in.size() < kMaxBufferedInput);
  }
};

Result<std::unique_ptr<BlobHttpServer>, std::string> BlobHttpServer::listen(blobstore::Store& store,
                                                                          ServerOptions options) {
  if (!is_loopback(options.address)) {
    return Err("host '" + options.address.host + "' is not a loopback address");
  }
  const int family = options.address.ipv6 ? AF_INET6 : AF_INET;
  transport::UniqueFd listener(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener) return Err(errno_text("socket"));
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (options.address.ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(options.address.port);
    ::inet_pton(AF_INET6, options.address.host.c_str(), &a->sin6_addr);
    length = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(options.address.port);
    ::inet_pton(AF_INET, options.address.host.c_str(), &a->sin_addr);
    length = sizeof *a;
  }
  const std::string where = (options.address.ipv6 ? "[" + options.address.host + "]" : options.address.host) +
                            ":" + std::to_string(options.address.port);
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    return Err(errno_text("bind " + where));
  }
  if (::listen(listener.get(), 128) != 0) return Err(errno_text("listen " + where));
  length = sizeof storage;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return Err(errno_text("getsockname"));
  }
  const std::uint16_t port = options.address.ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port)
                                                  : ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  return std::unique_ptr<BlobHttpServer>(new BlobHttpServer(store, std::move(options), std::move(listener), port));
}

BlobHttpServer::BlobHttpServer(blobstore::Store& store, ServerOptions options, transport::UniqueFd listener,
                               std::uint16_t port)
    : store_(store), options_(std::move(options)), listener_(std::move(listener)), port_(port) {}

BlobHttpServer::~BlobHttpServer() = default;

void BlobHttpServer::poll_fds(std::vector<pollfd>& fds) const {
  // The listener always comes first and each connection after it, in order:
  // poll() relies on that to match revents to connections.
  fds.push_back(pollfd{listener_.get(),
                       static_cast<short>(connections_.size() < options_.max_connections ? POLLIN : 0), 0});
  for (const auto& c : connections_) {
    short events = 0;
    if (c->wants_read()) events |= POLLIN;
    if (c->out_pending()) events |= POLLOUT;
    fds.push_back(pollfd{c->fd.get(), events, 0});
  }
}

bool BlobHttpServer::busy() const {
  for (const auto& c : connections_) {
    if (c->pending) return true;
  }
  return false;
}

void BlobHttpServer::poll() {
  std::vector<pollfd> fds;
  poll_fds(fds);
  if (::poll(fds.data(), fds.size(), 0) < 0) return;  // EINTR: the next call looks again
  const std::size_t known = fds.size() - 1;
  if ((fds[0].revents & POLLIN) != 0) accept_connections();
  for (std::size_t i = 0; i < connections_.size();) {
    Connection& c = *connections_[i];
    // New connections (after `known`) are served at once: their first
    // request has usually arrived with them.
    const bool ready = i >= known || fds[i + 1].revents != 0 || c.pending || c.draining;
    if (ready && !service(c)) {
      connections_.erase(connections_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

void BlobHttpServer::accept_connections() {
  for (std::size_t n = 0; n < kAcceptsPerPoll && connections_.size() < options_.max_connections; ++n) {
    transport::UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) break;  // EAGAIN, or the client left before we took it
    // Answers go out in one piece when they can; a request's answer must not
    // wait for an acknowledgement of the previous one.
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connections_.push_back(std::make_unique<Connection>(std::move(fd), options_.limits));
    ++counters_.connections;
  }
}

bool BlobHttpServer::service(Connection& c) {
  if (c.draining) {
    // Throw input away until the client closes, or enough was thrown away.
    char scrap[4096];
    for (;;) {
      const ssize_t n = ::recv(c.fd.get(), scrap, sizeof scrap, 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR ? Clock::now() < c.drain_until : false;
      c.drained += static_cast<std::size_t>(n);
      if (c.drained > kDrainBytes) return false;
    }
  }
  if (!flush(c)) return false;
  if (c.wants_read() && !read_input(c)) return false;
  answer_requests(c);
  if (c.broken) return false;
  if (c.closing && !c.out_pending()) {
    // Shut only the write side and keep reading for a while: closing with
    // unread input would reset the connection, and a reset can destroy the
    // answer before the client reads it.
    ::shutdown(c.fd.get(), SHUT_WR);
    c.draining = true;
    c.drain_until = Clock::now() + kDrainTime;
    return true;
  }
  if (c.peer_done && !c.closing && !c.pending) {
    if (c.parser.started() || !c.in.empty()) {
      ++counters_.dropped;  // the client left mid-request: nobody to answer
      return false;
    }
    return c.out_pending();  // send what it asked for, then close
  }
  return true;
}

bool BlobHttpServer::read_input(Connection& c) {
  char chunk[kReadChunk];
  std::size_t taken = 0;
  while (taken < kReadPerPoll && c.in.size() < kMaxBufferedInput && !c.closing) {
    const ssize_t n = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
    if (n == 0) {
      c.peer_done = true;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      ++counters_.dropped;
      return false;
    }
    taken += static_cast<std::size_t>(n);
    counters_.bytes_in += static_cast<std::uint64_t>(n);
    c.in.append(chunk, static_cast<std::size_t>(n));
    // Parse as the bytes come, so a large body moves on into the request
    // instead of piling up here.
    answer_requests(c);
    if (c.broken) return false;
  }
  return true;
}

void BlobHttpServer::answer_requests(Connection& c) {
  c.pending = false;
  for (std::size_t answered = 0; !c.closing && !c.broken;) {
    // Answers go out in request order: the next request waits until the
    // previous answer has left.
    if (c.out_pending() && (!flush(c) || c.out_pending())) return;
    const std::size_t used = c.parser.feed(c.in);
    c.in.erase(0, used);
    switch (c.parser.state()) {
      case RequestParser::State::kHead:
        return;
      case RequestParser::State::kBody:
        // The client waits for this before it sends a large body.
        if (c.parser.request().expect_continue && !c.continue_sent) {
          c.out += "HTTP/1.1 100 Continue\r\n\r\n";
          c.continue_sent = true;
          if (!flush(c)) return;
        }
        return;
      case RequestParser::State::kFailed: {
        const ParseError& e = c.parser.error();
        VSCSIM_LOG_RATELIMITED(log::Level::kDebug, "http: refused a request ({}): {}", e.status, e.message);
        const std::string body = one_line(e.message);
        c.out += format_head(AnswerHead{.status = e.status, .content_length = body.size(), .text = true,
                                        .close = true});
        c.out += body;
        ++counters_.requests;
        ++counters_.refused;
        c.closing = true;
        flush(c);
        return;
      }
      case RequestParser::State::kDone: {
        if (answered == kRequestsPerPoll) {
          c.pending = true;  // a whole request waits; the loop must not sleep
          return;
        }
        const Request request = c.parser.take();
        c.continue_sent = false;
        answer(c, request);
        ++answered;
        if (!request.keep_alive) c.closing = true;
        if (!flush(c)) return;
        break;
      }
    }
  }
}

void BlobHttpServer::answer(Connection& c, const Request& request) {
  ++counters_.requests;
  const bool head_only = request.method == "HEAD";
  const auto queue = [&](AnswerHead head, std::string_view body) {
    head.close = !request.keep_alive;
    head.keep_alive_header = request.keep_alive && request.minor_version == 0;
    head.content_length = body.size();
    c.out += format_head(head);
    if (!head_only) c.out += body;
  };
  const auto fail = [&](int status, std::string_view message, std::string_view allow = {}) {
    queue(AnswerHead{.status = status, .text = true, .allow = allow}, one_line(message));
  };
  const auto store_fail = [&](const blobstore::Error& e) { fail(status_for(e.code), e.message); };

  std::string_view path = request.target;
  path.remove_prefix(1);  // the parser checked the leading '/'
  if (path.find('?') != std::string_view::npos) return fail(400, "query strings are not supported");
  const std::size_t slash = path.find('/');
  const bool is_blob = slash != std::string_view::npos;
  if (path.substr(0, slash).empty()) {
    return fail(400, "the path names no container: use /<container> or /<container>/<blob>");
  }
  std::string container, blob;
  if (!percent_decode(path.substr(0, slash), container) ||
      (is_blob && !percent_decode(path.substr(slash + 1), blob))) {
    return fail(400, "a '%' in the path is not followed by two hex digits");
  }
  const std::string& m = request.method;

  if (!is_blob) {
    if (m == "PUT") {
      if (request.content_length > 0) return fail(400, "creating a container takes no body");
      if (auto done = store_.create_container(container); !done) return store_fail(done.error());
      return queue(AnswerHead{.status = 201}, {});
    }
    if (m == "DELETE") {
      if (auto done = store_.delete_container(container); !done) return store_fail(done.error());
      return queue(AnswerHead{.status = 204}, {});
    }
    return fail(405, "a container takes PUT or DELETE, not " + m, "PUT, DELETE");
  }

  if (m == "PUT") {
    if (!request.has_content_length) return fail(411, "a blob PUT needs a Content-Length header");
    auto put = store_.put(container, blob, std::as_bytes(std::span(request.body.data(), request.body.size())));
    if (!put) return store_fail(put.error());
    return queue(AnswerHead{.status = 201, .generation = put->generation}, {});
  }
  if (m == "GET" || m == "HEAD") {
    auto info = store_.stat(container, blob);
    if (!info) return store_fail(info.error());
    AnswerHead head{.status = 200, .content_length = info->size, .octets = true, .generation = info->generation,
                    .close = !request.keep_alive,
                    .keep_alive_header = request.keep_alive && request.minor_version == 0};
    const std::string text = format_head(head);
    if (head_only) {
      c.out += text;
      return;
    }
    // The bytes go straight from the store into the output buffer.
    const std::size_t start = c.out.size();
    c.out.resize(start + text.size() + info->size);
    std::memcpy(c.out.data() + start, text.data(), text.size());
    auto read = store_.get(container, blob, blobstore::ByteRange{},
                           std::as_writable_bytes(std::span(c.out.data() + start + text.size(), info->size)));
    if (!read || read->length != info->size) {
      c.out.resize(start);
      return read ? fail(500, "the blob changed size while being read") : store_fail(read.error());
    }
    return;
  }
  if (m == "DELETE") {
    if (auto done = store_.delete_blob(container, blob); !done) return store_fail(done.error());
    return queue(AnswerHead{.status = 204}, {});
  }
  return fail(405, "a blob takes GET, HEAD, PUT or DELETE, not " + m, "GET, HEAD, PUT, DELETE");
}

bool BlobHttpServer::flush(Connection& c) {
  while (c.out_pending()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      ++counters_.dropped;
      c.broken = true;
      return false;
    }
    c.out_sent += static_cast<std::size_t>(n);
    counters_.bytes_out += static_cast<std::uint64_t>(n);
  }
  c.out.clear();
  c.out_sent = 0;
  return true;
}

}  // namespace vscsim::http
