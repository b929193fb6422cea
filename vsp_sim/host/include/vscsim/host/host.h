// The simulator's host: the device models it offers, the current guest's
// Session, and the one-line text commands of the control socket. The daemon
// wires it to the ivshmem server and the control socket; tests drive it
// directly.
//
// Guest RAM is opened when a guest peer connects, not before: the launcher
// creates the RAM memfd just before QEMU starts, so the path (often
// /proc/<pid>/fd/<n>) may not be valid while the simulator starts.
//
// Commands (one line in, one line out; the answer starts with "ok" or "error"):
//   state                 ok session=<none|up> connection=<s> version=<v> released=<n>
//                            then per relid: "relid=<r> kind=<k> channel=<s> ring=<s> <model>"
//                            separated by " | "
//   rescind <relid>       RESCIND_CHANNELOFFER
//   reoffer <relid>       offer a released channel again (same relid and GUIDs)
//   fail-open <relid>     the channel's next OPENCHANNEL is answered with
//                         STATUS_UNSUCCESSFUL (in this session, or the next
//                         one if no guest is connected)
//   key <scancode> [down|up|press]
//                         a keystroke on the first keyboard (set-1 make code,
//                         0xE0xx for E0-prefixed keys; default press)
//   help                  ok <the command names>
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/devices/device.h"
#include "vscsim/host/session.h"
#include "vscsim/server/server.h"

namespace vscsim::host {

class Host {
 public:
  Host(std::string guest_ram_path, std::vector<std::unique_ptr<devices::Device>> devices,
       SessionConfig config = {});

  // A guest peer finished its ivshmem handshake and the region was reset for
  // it: maps guest RAM and starts a session. On failure (RAM file unusable)
  // there is no session and the error says why; the guest then gets no
  // answers and its own time-outs report it.
  Result<void, std::string> guest_connected(const Bar2& bar2, SignalGuest signal);
  void guest_disconnected();

  void on_guest_signal(std::uint16_t vector);
  void poll();
  [[nodiscard]] bool busy() const;

  // Runs one control command line (without its newline).
  std::string command(std::string_view line);

  [[nodiscard]] Session* session() { return session_.get(); }
  [[nodiscard]] const std::vector<std::unique_ptr<devices::Device>>& devices() const {
    return devices_;
  }

 private:
  std::string state() const;

  std::string guest_ram_path_;
  std::vector<std::unique_ptr<devices::Device>> devices_;
  SessionConfig config_;
  // Faults asked for while no guest was connected, applied to the next session.
  std::map<std::uint32_t, server::ChannelFaults> next_faults_;
  std::unique_ptr<Session> session_;
};

// Makes a device model from its --device name ("keyboard", "blob-vpci");
// nullptr if unknown.
std::unique_ptr<devices::Device> make_device(std::string_view kind);

}  // namespace vscsim::host
