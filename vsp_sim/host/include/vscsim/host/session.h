// One guest's VMBus session on the host: the glue between the BAR2 transport
// (mailboxes, event bitmaps), the channel server, the rings and the device
// models. Built when a guest peer connects (guest RAM is mapped then), dropped
// when it leaves.
//
// Single-threaded and non-blocking: the event loop reports guest signals
// (on_guest_signal) and then calls poll(), which does the pending work with a
// bound on every loop and returns; busy() says whether work is left that
// needs no further signal (a drain stopped at its bound).
//
// Per pass, in order:
//   timers:   tick(now) every open channel's model (now from
//             SessionConfig::clock), then commit what it sent; next_deadline()
//             says when the earliest model wants its next tick.
//   vector 0: retry the host-to-guest backlog (messages the full mailbox could
//             not take, docs/transport.md 4.3), then drain at most
//             `messages_per_drain` guest-to-host messages into
//             Server::handle_message.
//   vector 1: take the guest-to-host event bits; for each relid with an open
//             channel, resume() its model (sends that found the ring full
//             retry first), read at most `packets_per_pass` packets with
//             RingReader (interrupts masked while draining), hand each to the
//             device model, then commit the read and the model's writes and
//             signal the guest (h2g event bit + vector 1) only if a commit
//             says so.
// A model's send that finds the host-to-guest ring full sets the ring's
// pending_send_sz, so the guest signals the channel once it has made room;
// after each commit the session checks once more whether the room is already
// there (the guest may have read meanwhile) and, if so, services the channel
// on the next pass without waiting for a signal.
// A ring the guest corrupts marks that channel broken (logged rate-limited);
// the session and the other channels go on.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/devices/device.h"
#include "vscsim/host/packet_trace.h"
#include "vscsim/memory/guest_memory.h"
#include "vscsim/ring/ring.h"
#include "vscsim/server/server.h"
#include "vscsim/transport/mailbox.h"
#include "vscsim/transport/shared_region.h"

namespace vscsim::host {

// Lower-case copy (state names in control answers are lower-case words).
[[nodiscard]] std::string lower(std::string_view s);

// The time models see in tick(); tests pass a clock of their own.
using SessionClock = std::function<devices::DeviceClock::time_point()>;

struct SessionConfig {
  std::uint32_t messages_per_drain = transport::layout::kSlotCount;
  std::uint32_t packets_per_pass = 64;  // per channel
  server::ServerConfig server{};
  SessionClock clock{};  // empty: DeviceClock::now
  // Where every packet and channel message is recorded (not owned; it
  // outlives the session). Null: nothing is recorded.
  PacketTrace* trace = nullptr;
};

// The BAR2 pieces one session uses (from SharedRegion, or a test's own).
struct Bar2 {
  transport::MailboxView host_to_guest;
  transport::MailboxView guest_to_host;
  transport::EventBitmap host_to_guest_events;
  transport::EventBitmap guest_to_host_events;

  static Bar2 of(const transport::SharedRegion& region);
};

// Rings the guest's vector (ivshmem eventfd).
using SignalGuest = std::function<void(std::uint16_t vector)>;

struct SessionStats {
  std::uint64_t messages_posted = 0;
  std::uint64_t messages_backlogged = 0;  // posts that found the mailbox full
  std::uint64_t packets_read = 0;
  std::uint64_t packets_written = 0;
  std::uint64_t guest_signals_sent = 0;   // vector 1 rings
  std::uint64_t unknown_relid_bits = 0;
  std::uint64_t relids_released = 0;      // RELID_RELEASED messages from the guest
};

class Session final : private server::Notifier {
 public:
  // Registers every device with the channel server (relids 1, 2, ... in
  // order) and applies `faults` (by relid) to them. Devices must outlive the
  // session.
  Session(memory::GuestMemory memory, Bar2 bar2, SignalGuest signal,
          const std::vector<devices::Device*>& devices,
          const std::map<std::uint32_t, server::ChannelFaults>& faults = {},
          SessionConfig config = {});
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void on_guest_signal(std::uint16_t vector);
  void poll();
  [[nodiscard]] bool busy() const;
  // The earliest time an open channel's model wants a tick (poll() then
  // gives it one); nullopt if none waits for time.
  [[nodiscard]] std::optional<devices::DeviceClock::time_point> next_deadline() const;

  // Host events (control socket, fault plans). Errors say why in words.
  Result<void, std::string> rescind(std::uint32_t relid);
  Result<void, std::string> reoffer(std::uint32_t relid);
  Result<void, std::string> fail_next_open(std::uint32_t relid, std::uint32_t status);
  // Commits what device models wrote outside a drain (host-initiated sends)
  // and signals the guest where the ring rules say so.
  void flush();

  [[nodiscard]] const server::Server& server() const { return server_; }
  [[nodiscard]] const SessionStats& stats() const { return stats_; }
  [[nodiscard]] std::size_t backlog() const { return backlog_.size(); }
  [[nodiscard]] std::optional<std::uint32_t> relid_of(const devices::Device& device) const;
  // "channel=<state> ring=<open|closed|broken>" for one relid.
  [[nodiscard]] std::string describe_channel(std::uint32_t relid) const;
  // Its parts: the channel's state word ("none" if the relid is unknown) and
  // the ring's word.
  [[nodiscard]] std::string channel_word(std::uint32_t relid) const;
  [[nodiscard]] std::string_view ring_word(std::uint32_t relid) const;
  [[nodiscard]] bool channel_broken(std::uint32_t relid) const;

 private:
  // An open channel: its mapped rings and the port its model sends through.
  struct Channel final : devices::ChannelPort {
    Channel(std::uint32_t relid, devices::Device& device, ring::MappedRingPair rings,
            const memory::GuestMemory& memory, PacketTrace* trace);
    devices::SendStatus send(wire::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                             std::span<const std::byte> payload) override;
    const memory::GuestMemory& guest_memory() const override { return memory; }
    void fault(devices::HostFault fault, std::uint64_t trans_id) override;

    std::uint32_t relid;
    devices::Device& device;
    ring::MappedRingPair rings;
    const memory::GuestMemory& memory;
    PacketTrace* trace;
    ring::RingReader reader;
    ring::RingWriter writer;
    std::uint64_t uncommitted = 0;  // packets written since the last commit
    // A send found the ring full and set pending_send_sz to this many bytes.
    std::optional<std::uint32_t> waiting_for_space;
    std::optional<std::string> broken;
  };

  // server::Notifier
  void post_message(std::span<const std::byte> message) override;
  void channel_opened(std::uint32_t relid, const server::RingInfo& ring) override;
  void channel_closing(std::uint32_t relid) override;

  bool try_post(std::span<const std::byte> message);
  void flush_backlog();
  void drain_control();
  void tick_models();
  void service_channel(Channel& ch);
  void commit(Channel& ch, bool read_signal);
  void recheck_space(Channel& ch);
  void mark_broken(Channel& ch, const std::string& reason);
  void signal_channel(std::uint32_t relid);

  memory::GuestMemory memory_;
  Bar2 bar2_;
  SignalGuest signal_;
  SessionConfig config_;
  transport::MailboxProducer to_guest_;
  transport::MailboxConsumer from_guest_;
  bool reported_mailbox_broken_ = false;
  std::deque<std::vector<std::byte>> backlog_;
  bool control_pending_ = false;
  bool channel_event_ = false;
  bool control_signal_needed_ = false;
  std::set<std::uint32_t> pending_channels_;  // stopped at their bound
  std::map<std::uint32_t, devices::Device*> devices_;  // by relid
  std::map<std::uint32_t, std::unique_ptr<Channel>> channels_;  // open ones, by relid
  std::map<std::uint32_t, std::string> broken_;  // sticky until the channel reopens
  SessionStats stats_;
  server::Server server_;  // last: its constructor may not call back, but its users come first
};

}  // namespace vscsim::host
