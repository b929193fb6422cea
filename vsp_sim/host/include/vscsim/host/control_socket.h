// The daemon's control socket: a unix stream socket carrying the commands of
// Host (host.h) in two spellings. A connection starts in text mode: one-line
// commands, one line answered each. The line "proto 1" is answered
// "ok proto 1" and switches that connection to control.proto frames both ways
// (proto/vscsim/control.proto): a 4-byte little-endian length, then that many
// bytes of one serialized Request in, of one Response out, answered in order.
//
// Non-blocking; the event loop calls poll() often. Bounded: at most
// kMaxClients connections; text lines of at most kMaxLine bytes (a longer
// line gets "error line too long" and the connection is closed); frames of at
// most kMaxFrame bytes (a longer declared length, or bytes that are not a
// Request, get an error Response with id 0 if the socket takes it, and the
// connection is closed); at most kRequestsPerPoll answered per client per
// poll(); at most kMaxOutput bytes of answers waiting for a client that does
// not read (more closes it).
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

#include "vscsim/control.pb.h"
#include "vscsim/transport/unique_fd.h"

namespace vscsim::host {

class ControlSocket {
 public:
  using Handler = std::function<std::string(std::string_view line)>;
  using ProtoHandler = std::function<control::Response(const control::Request& request)>;
  static constexpr std::size_t kMaxClients = 8;
  static constexpr std::size_t kMaxLine = 256;
  static constexpr std::size_t kMaxFrame = std::size_t{1} << 20;  // control.proto's limit
  static constexpr std::size_t kFrameHeader = 4;
  static constexpr std::size_t kRequestsPerPoll = 64;
  static constexpr std::size_t kMaxOutput = 4 * kMaxFrame;

  // Binds and listens on `path` (a stale socket file is replaced; any other
  // existing file is an error). Without a `proto` handler, "proto 1" is
  // answered "error protobuf not served" and the connection stays in text.
  ControlSocket(std::filesystem::path path, Handler handler, ProtoHandler proto = {});
  ~ControlSocket();  // closes everything and removes the socket file
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Accepts, reads and answers whatever is ready; never blocks.
  void poll();
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    transport::UniqueFd fd;
    std::string in;
    std::string out;  // answers the socket did not take yet
    bool proto = false;
  };
  bool serve(Client& c);        // false: drop the client
  bool serve_text(Client& c);   // false: drop the client
  bool serve_frames(Client& c); // false: drop the client
  // Queues a frame holding `response`.
  void queue_frame(Client& c, const control::Response& response) const;
  // Sends what waits in c.out; false if the client is gone or over kMaxOutput.
  static bool flush(Client& c);

  std::filesystem::path path_;
  Handler handler_;
  ProtoHandler proto_;
  transport::UniqueFd listener_;
  std::vector<Client> clients_;
};

}  // namespace vscsim::host
