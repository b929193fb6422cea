// The blob store over plain HTTP/1.1: the path a guest takes through its
// network stack (QEMU user networking reaches the host's loopback), to set
// beside the az_blob driver's VMBus path to the same Store. Benchmarks compare
// the two (`azblob bench`, client/README.md).
//
// The API (names percent-decoded, then checked by the store's rules):
//   PUT    /<container>         empty body       201; 409 if it exists
//   DELETE /<container>                          204; 404; 409 while it holds blobs
//   PUT    /<container>/<blob>  Content-Length   201, x-generation: <n>
//   GET    /<container>/<blob>                   200 with the bytes, x-generation; 404
//   HEAD   /<container>/<blob>                   as GET, without the bytes
//   DELETE /<container>/<blob>                   204; 404
// The blob name is everything after "/<container>/", slashes included. Every
// error answer carries a one-line text/plain body saying what was wrong: 400
// malformed request or a name the store refuses (with the store's message),
// 404, 405 (with Allow), 409, 411 (a blob PUT without Content-Length), 413,
// 431, 501 (Transfer-Encoding), 505, 507 (the store is full), 500 (the store
// failed). A request the parser refuses is answered and then that connection
// alone is closed.
//
// Driven from the simulator's single-threaded loop: the listening socket and
// every connection are non-blocking; the loop waits on the fds poll_fds()
// names (together with its own) and then calls poll(), which never blocks. The
// Store has one owner thread and this server runs on it; there are no threads
// here.
//
// Bounds: at most max_connections connections (more wait in the listen
// backlog); per connection and poll() at most kReadPerPoll bytes read and
// kRequestsPerPoll requests answered (busy() says when work is left); reading
// stops while kMaxBufferedInput bytes wait unparsed behind an unsent answer, so
// a client that pipelines without reading costs at most that much plus one
// answer; a request body is at most limits.max_body_bytes.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/blobstore/store.h"
#include "vscsim/http/request_parser.h"
#include "vscsim/transport/unique_fd.h"

namespace vscsim::http {

// A loopback listening address, from "HOST:PORT": HOST is 127.x.y.z,
// localhost, ::1 or [::1]; PORT 0..65535 (0: the kernel picks a free one).
struct ListenAddress {
  std::string host;  // numeric, without brackets
  std::uint16_t port = 0;
  bool ipv6 = false;
};
[[nodiscard]] Result<ListenAddress, std::string> parse_listen_address(std::string_view text);

struct ServerOptions {
  ListenAddress address{"127.0.0.1", 0, false};
  std::size_t max_connections = 64;
  ParserLimits limits{};
};

struct ServerCounters {
  std::uint64_t connections = 0;  // accepted
  std::uint64_t requests = 0;     // answered, refused ones included
  std::uint64_t refused = 0;      // requests the parser refused (connection closed after)
  std::uint64_t dropped = 0;      // connections closed mid-request or on a socket error
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

class BlobHttpServer {
 public:
  static constexpr std::size_t kReadChunk = 64 * 1024;
  static constexpr std::size_t kReadPerPoll = 1024 * 1024;
  static constexpr std::size_t kRequestsPerPoll = 32;
  static constexpr std::size_t kMaxBufferedInput = 256 * 1024;
  static constexpr std::size_t kAcceptsPerPoll = 16;
  // After answering a refused request: how much more of the client's input
  // is read and thrown away (so closing does not reset the connection before
  // the client has read the answer), and for how many polls at most.
  static constexpr std::size_t kDrainBytes = 1024 * 1024;
  static constexpr std::size_t kDrainPolls = 1000;

  // Binds and listens on `options.address` (which must be loopback). The
  // store must outlive the server; only poll() touches it.
  [[nodiscard]] static Result<std::unique_ptr<BlobHttpServer>, std::string> listen(blobstore::Store& store,
                                                                                ServerOptions options);
  ~BlobHttpServer();
  BlobHttpServer(const BlobHttpServer&) = delete;
  BlobHttpServer& operator=(const BlobHttpServer&) = delete;

  // The bound port (the kernel's choice when asked for 0).
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // Appends the fds to wait on, with the events wanted now.
  void poll_fds(std::vector<pollfd>& fds) const;
  // Accepts, reads, answers and writes whatever is ready; never blocks.
  void poll();
  // True when poll() has work that needs no waiting (requests already read).
  [[nodiscard]] bool busy() const;
  [[nodiscard]] std::size_t connections() const { return connections_.size(); }
  [[nodiscard]] const ServerCounters& counters() const { return counters_; }

 private:
  struct Connection;
  BlobHttpServer(blobstore::Store& store, ServerOptions options, transport::UniqueFd listener, std::uint16_t port);

  void accept_connections();
  // false: close the connection now.
  bool service(Connection& c);
  bool read_input(Connection& c);
  void answer_requests(Connection& c);
  void answer(Connection& c, const Request& request);
  bool flush(Connection& c);

  blobstore::Store& store_;
  ServerOptions options_;
  transport::UniqueFd listener_;
  std::uint16_t port_;
  std::vector<std::unique_ptr<Connection>> connections_;
  ServerCounters counters_;
};

}  // namespace vscsim::http
