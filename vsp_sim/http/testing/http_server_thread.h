// Test helper: a BlobHttpServer listening on 127.0.0.1 (a free port) and
// served from a thread of its own until the helper is destroyed. The thread
// is then the store's only user: a test touches the store before start() or
// after stop(), never while the server runs.
#pragma once

#include <poll.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "vscsim/http/blob_http_server.h"

namespace vscsim::http::testing {

class ServerThread {
 public:
  explicit ServerThread(blobstore::Store& store, ServerOptions options = {}) {
    auto server = BlobHttpServer::listen(store, std::move(options));
    if (!server.ok()) throw std::runtime_error("listen: " + server.error());
    server_ = std::move(server).value();
    thread_ = std::thread([this] { loop(); });
  }
  ~ServerThread() { stop(); }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  // Ends the loop; afterwards the server's counters and the store are the
  // test's to read.
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] const BlobHttpServer& server() const { return *server_; }

 private:
  void loop() {
    std::vector<pollfd> fds;
    while (!stop_.load()) {
      fds.clear();
      server_->poll_fds(fds);
      // A short wait, so stop() is noticed soon; events end it at once.
      ::poll(fds.data(), fds.size(), server_->busy() ? 0 : 5);
      server_->poll();
    }
  }

  std::unique_ptr<BlobHttpServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vscsim::http::testing
