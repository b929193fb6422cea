// The blob store over plain HTTP/1.1, the way `vsp-sim --http-listen` serves
// it (vsp_sim/http/README.md): the network path `azblob bench` sets beside the
// az_blob driver's. One HttpConnection is one keep-alive TCP connection;
// requests on it go one at a time (no pipelining).
//
// Small on purpose: blocking sockets with a timeout, numeric addresses only
// (no name lookup: the guest binary is static, and glibc's resolver would
// want shared libraries at run time), Content-Length bodies only. An answer
// without Content-Length (other than 1xx and 204) or with a malformed head is
// an error, and so is any failure of the socket; after either the connection
// is closed, and the next request reconnects.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vscsim/azblob/error.h"

namespace vscsim::azblob {

// HOST:PORT with HOST a numeric IPv4 address or a bracketed IPv6 one
// ("10.0.2.2:8080", "[::1]:8080").
struct HttpEndpoint {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  bool ipv6 = false;
};
[[nodiscard]] Result<HttpEndpoint> parse_http_endpoint(std::string_view text);

// "/<container>/<blob>" with every byte outside [A-Za-z0-9-._~] of either
// name percent-encoded, except the blob name's '/'.
[[nodiscard]] std::string blob_target(std::string_view container, std::string_view blob);

struct HttpAnswer {
  int status = 0;
  std::uint64_t generation = 0;  // x-generation, 0 if absent
  std::vector<std::byte> body;
};

class HttpConnection {
 public:
  // Connects at once; `timeout` bounds the connect and every later send or
  // receive (0: no bound).
  [[nodiscard]] static Result<HttpConnection> connect(HttpEndpoint endpoint, std::chrono::milliseconds timeout);
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  ~HttpConnection();

  // Sends one request and reads its whole answer, whatever its status.
  // Reconnects first if the connection was closed. Errors (kind kHttp,
  // http_status 0) are the socket's or a malformed answer's.
  [[nodiscard]] Result<HttpAnswer> request(std::string_view method, std::string_view target,
                                           std::span<const std::byte> body = {});

  // The store operations; an answer other than the one expected is an error
  // of kind kHttp naming the operation, the status and the server's reason,
  // e.g. "put c/b: HTTP 507: the store is full".
  // create_container: 201, or 409 when `exists_ok`.
  [[nodiscard]] Result<void> create_container(std::string_view container, bool exists_ok = false);
  // 201; the blob's new generation.
  [[nodiscard]] Result<std::uint64_t> put(std::string_view container, std::string_view blob,
                                          std::span<const std::byte> bytes);
  // 200; the blob's bytes.
  [[nodiscard]] Result<std::vector<std::byte>> get(std::string_view container, std::string_view blob);

  // Whether a connection is open now.
  [[nodiscard]] bool connected() const { return fd_ >= 0; }

 private:
  HttpConnection(HttpEndpoint endpoint, std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)), timeout_(timeout) {}
  Result<void> open();
  void close();
  Result<void> send_request(std::string_view head, std::span<const std::byte> body);
  Result<HttpAnswer> read_answer(bool* server_closes);
  // Reads more bytes into `in_`; false at EOF, an error on failure.
  Result<bool> receive();
  Error failure(std::string_view what, int err) const;

  HttpEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::vector<char> in_;   // received, not yet taken
  std::size_t in_at_ = 0;  // where the untaken bytes of in_ start
};

}  // namespace vscsim::azblob
