// The daemon's control socket: a unix stream socket taking one-line text
// commands and answering one line each (the command set is Host::command's).
// Non-blocking; the event loop calls poll() often. Bounded: at most
// kMaxClients connections, lines of at most kMaxLine bytes (a longer line gets
// "error line too long" and the connection is closed).
//
// Set-up errors throw std::system_error; client misbehaviour only closes that
// client.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/transport/unique_fd.h"

namespace vscsim::host {

class ControlSocket {
 public:
  using Handler = std::function<std::string(std::string_view line)>;
  static constexpr std::size_t kMaxClients = 8;
  static constexpr std::size_t kMaxLine = 256;

  // Binds and listens on `path` (a stale socket file is replaced; any other
  // existing file is an error).
  ControlSocket(std::filesystem::path path, Handler handler);
  ~ControlSocket();  // closes everything and removes the socket file
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Accepts, reads and answers whatever is ready; never blocks.
  void poll();
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  struct Client {
    transport::UniqueFd fd;
    std::string in;
  };
  bool serve(Client& c);  // false: drop the client

  std::filesystem::path path_;
  Handler handler_;
  transport::UniqueFd listener_;
  std::vector<Client> clients_;
};

}  // namespace vscsim::host
