// The simulator's host: the device models it offers, the current guest's
// Session, and the control commands. The daemon wires it to the ivshmem
// server and the control socket; tests drive it directly.
//
// Commands come in two spellings that run the same code: execute() takes a
// control.proto Request (proto/vscsim/control.proto; the control socket's
// frames after "proto 1") and is the one place commands are carried out;
// command() takes one text line, parses it into a Request (or answers
// "error <why>" for a line that does not parse), calls execute() and spells
// the Response as one text line.
//
// Guest RAM is opened when a guest peer connects, not before: the launcher
// creates the RAM memfd just before QEMU starts, so the path (often
// /proc/<pid>/fd/<n>) may not be valid while the simulator starts.
//
// Commands (one line in, one line out; the answer starts with "ok" or "error"):
//   state                 ok session=<none|up> connection=<s> version=<v> released=<n>
//                            then per relid: "relid=<r> kind=<k> channel=<s> ring=<s> <model>"
//                            separated by " | "; a channel with fault rules
//                            adds " faults=[<rule>; ...]" (as `faults` spells
//                            them), rules for every channel a last part
//                            "| faults(any relid)=[...]"
//   rescind <relid>       RESCIND_CHANNELOFFER
//   reoffer <relid>       offer a released channel again (same relid and GUIDs)
//   fail-open <relid>     the channel's next OPENCHANNEL is answered with
//                         STATUS_UNSUCCESSFUL (in this session, or the next
//                         one if no guest is connected)
//   key <scancode> [down|up|press]
//                         a keystroke on the first keyboard (set-1 make code,
//                         0xE0xx for E0-prefixed keys; default press)
//   blob-delay <relid> <ms> [late]
//                         the blob device at <relid> completes requests that
//                         arrive from now on after <ms> ms (0: at once); one
//                         whose timeout_ms is shorter fails at its timeout
//                         with wire status 2 (docs/azure-blob.md section 4),
//                         unless `late`: then it is answered after <ms> ms
//                         anyway (a host answering a guest that gave up).
//   blob-inject <relid> <trans_id> [<payload_bytes>]
//                         a completion nobody asked for on the blob device at
//                         <relid>: that id (0, unknown, stale), the first
//                         <payload_bytes> (default 12) bytes of a success
//                         completion; the guest must ignore it
//   blob-drop <relid> <count> [<after>]
//                         the blob device at <relid> lets <after> (default 0)
//                         more requests through, then carries out the next
//                         <count> but never sends their completions; each
//                         drop is a host_fault event in the packet trace;
//                         count 0 cancels. state shows "drop=<n> after=<m>"
//                         while one is pending, and counts withheld=<n>.
//   blob-reset <relid>    empties the blob device's store (every container
//                         and blob), so the next scenario starts from nothing
//                         The blob-* commands work with or without a guest:
//                         without a session, relid n is the n-th --device.
//   fault <action> <relid> [key=value ...]
//                         adds a fault rule (control.proto FaultRule; the
//                         model and each action: vsp_sim/host/README.md):
//                         <action> is a FaultRule action field name (drop,
//                         delay_ms, duplicate, reorder, wrong_id, truncate,
//                         corrupt, oversize_response_len, spray_interrupts,
//                         flood_ms, rescind_after_in_flight, rescind_on_close,
//                         fail_gpadl, fail_open, stop_draining,
//                         withhold_interrupts); relid 0 is every channel;
//                         keys: after= count= id= (trans_id) type= (packet
//                         type) op= (completion rules: the request's operation,
//                         e.g. put, get) and the action's value: ms= (delay_ms,
//                         flood_ms, stop_draining, withhold_interrupts), kind=zero|
//                         unknown|stale (wrong_id), bytes= (truncate),
//                         offset= xor= or status= (corrupt), len=
//                         (oversize_response_len), n= (spray_interrupts,
//                         rescind_after_in_flight), status= (fail_gpadl,
//                         fail_open). Answer: ok fault_id=<id>. A relid with
//                         no device, a device that cannot do the action, or
//                         a value out of range is refused.
//   faults                ok then one "| #<id> <action> relid=<r> ... hits=<n>"
//                         per rule
//   fault-clear [relid]   removes the rules of relid (default: all); held
//                         completions are sent, stopped rings drained:
//                         ok cleared=<n>
//   trace-dump <path>     writes the packet trace (every ring packet and
//                         channel message, PacketTrace::to_json_lines) to
//                         <path>, whole or not at all: ok <events> <dropped>
//   trace-clear           empties the trace and restarts its clock
//   help                  ok <the command names>
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <functional>
#include <optional>

#include "vscsim/blobstore/store.h"
#include "vscsim/control.pb.h"
#include "vscsim/devices/device.h"
#include "vscsim/host/fault_engine.h"
#include "vscsim/host/session.h"
#include "vscsim/server/server.h"

namespace vscsim::devices {
class Blob;
}

namespace vscsim::host {

class Host {
 public:
  // Records into config.trace if set, else into a trace of its own; applies
  // its own fault rules (config.faults is replaced).
  Host(std::string guest_ram_path, std::vector<std::unique_ptr<devices::Device>> devices,
       SessionConfig config = {});
  // Where the guest RAM file is, asked each time a guest must be attached:
  // for a QEMU started by libvirt or Vagrant the file has no path known in
  // advance (daemon --guest-ram-from-peer finds it in the QEMU peer's maps).
  using GuestRamLocator = std::function<Result<std::string, std::string>()>;
  Host(GuestRamLocator locate_guest_ram, std::vector<std::unique_ptr<devices::Device>> devices,
       SessionConfig config = {});
  // Not movable: its session config points at its own trace.
  Host(Host&&) = delete;
  Host& operator=(Host&&) = delete;

  // A guest peer finished its ivshmem handshake and the region was reset for
  // it: maps guest RAM and starts a session. On failure (RAM file missing or
  // unusable) there is no session yet and the error says why; the guest stays
  // pending and each of its signals tries again. QEMU connects to the ivshmem
  // server before it creates a file-backed RAM (libvirt's case), and the
  // guest first signals only once its transport module loads, long after.
  Result<void, std::string> guest_connected(const Bar2& bar2, SignalGuest signal);
  void guest_disconnected();

  // A pending guest (see guest_connected) is attached first.
  void on_guest_signal(std::uint16_t vector);
  void poll();
  [[nodiscard]] bool busy() const;
  // When poll() must run next for a model's timer (Session::next_deadline).
  [[nodiscard]] std::optional<devices::DeviceClock::time_point> next_deadline() const;

  // Carries out one control request; never throws. A refused command is
  // ok=false with the reason in `error` (the text after "error " in the text
  // answer). The Response carries the request's id.
  control::Response execute(const control::Request& request);
  // Runs one text command line (without its newline) through execute().
  std::string command(std::string_view line);

  [[nodiscard]] Session* session() { return session_.get(); }
  // Every packet and channel message of every session of this host.
  [[nodiscard]] const PacketTrace& trace() const { return *config_.trace; }
  [[nodiscard]] const std::vector<std::unique_ptr<devices::Device>>& devices() const {
    return devices_;
  }
  [[nodiscard]] const FaultEngine& faults() const { return faults_; }

 private:
  void fill_state(control::State& state) const;
  Result<void, std::string> run(const control::Request& request, control::Response& response);
  // The device offered (or to be offered) at `relid`; nullptr if none.
  devices::Device* device_at(std::uint32_t relid) const;
  // The blob device at `relid`; an error saying so if none is there or it is
  // another kind.
  Result<devices::Blob*, std::string> blob_at(std::uint32_t relid) const;
  // Whether the device at the rule's relid can carry out its action, and its
  // values fit that device; the error says why not.
  Result<void, std::string> check_rule(const control::FaultRule& rule) const;

  // Maps guest RAM and starts the session for the pending guest.
  Result<void, std::string> attach_pending();

  GuestRamLocator locate_guest_ram_;
  struct PendingGuest {
    Bar2 bar2;
    SignalGuest signal;
  };
  std::optional<PendingGuest> pending_;  // connected, RAM not mapped yet
  std::string last_attach_error_;        // logged once, not on every signal
  std::vector<std::unique_ptr<devices::Device>> devices_;
  SessionConfig config_;
  // Faults asked for while no guest was connected, applied to the next session.
  std::map<std::uint32_t, server::ChannelFaults> next_faults_;
  PacketTrace trace_;
  FaultEngine faults_;
  std::unique_ptr<Session> session_;
};

// What the daemon's --blob-* options set for every blob device.
struct DeviceOptions {
  // Empty: each blob device keeps its blobs in memory. Otherwise each keeps
  // them in the directory store <blob_dir>/<instance GUID>/ (so several blob
  // devices never share files, and a restart finds each one's blobs again).
  std::string blob_dir;
  std::uint64_t blob_capacity = blobstore::kDefaultCapacityBytes;
  std::chrono::milliseconds blob_delay{0};
};

// The --device names make_devices knows.
inline constexpr std::string_view kDeviceKinds[] = {"keyboard", "blob-vpci", "blob"};

// Makes the device models named by --device, in order (relids 1, 2, ...).
// The n-th keyboard or blob gets numbered_instance(its default, n), so
// repeated kinds are distinct devices; blob-vpci keeps Azure's fixed
// instance. Fails, saying why, for an unknown name or a blob store that
// cannot be opened.
Result<std::vector<std::unique_ptr<devices::Device>>, std::string> make_devices(
    const std::vector<std::string>& kinds, const DeviceOptions& options = {});

// One device model with default options; nullptr if unknown.
std::unique_ptr<devices::Device> make_device(std::string_view kind);

}  // namespace vscsim::host
