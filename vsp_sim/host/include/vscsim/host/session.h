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
//
// Fault rules (SessionConfig::faults, fault_engine.h) act where things pass:
// a model's send (completion faults; held completions wait in the channel and
// leave on a later pass, before the model's tick), a request read from the
// ring (rescind_after_in_flight: that request is not handed to the model,
// the drain stops and the channel is rescinded), a guest channel message
// before the server handles it (rescind_on_close, fail_gpadl, fail_open), the
// start of a ring drain (stop_draining) and a guest signal (withhold). Each
// action that acts records a host_fault event in the trace.
// A flood (flood_ms) is pumped at the end of every pass: real completions
// waiting for room go first, then extra completions for ids not in flight
// fill the ring (at most kFloodPerPass a pass); next_deadline() asks for the
// next pass kFloodPoll later. It ends at its time, when the rules are
// cleared, when the channel is no longer open, and with the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/devices/device.h"
#include "vscsim/host/fault_engine.h"
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
  // Fault rules to apply (not owned; outlives the session). Null: none.
  FaultEngine* faults = nullptr;
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
  std::uint64_t flood_packets = 0;        // completions a flood_ms rule wrote (in packets_written too)
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
  // Fault rules of `relid` (0: all) were removed: completions they hold are
  // sent now (as far as the ring takes them); stopped rings and withheld
  // signals resume on the next pass.
  void faults_cleared(std::uint32_t relid);

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
  // A completion a fault rule holds back (delay_ms, reorder, the second copy
  // of a duplicate the ring had no room for).
  struct Held {
    std::optional<devices::DeviceClock::time_point> due;  // nullopt: after the next completion
    wire::PacketType type;
    std::uint16_t flags;
    std::uint64_t trans_id;
    std::vector<std::byte> payload;
  };
  static constexpr std::size_t kMaxHeld = 4096;      // per channel; more are sent at once
  static constexpr std::size_t kMaxInFlight = 65536; // ids tracked per channel
  static constexpr std::size_t kRecentIds = 64;      // completed ids kept for wrong_id stale
  static constexpr std::uint32_t kFloodPerPass = 8192;  // more than a 128 KiB ring of 40-byte packets
  static constexpr std::uint32_t kFloodChunk = 256;     // packets per commit: ~10 KiB the guest may start on
  static constexpr std::chrono::microseconds kFloodPoll{100};  // a full ring is looked at again this soon

  // An open channel: its mapped rings and the port its model sends through.
  struct Channel final : devices::ChannelPort {
    Channel(Session& session, std::uint32_t relid, devices::Device& device,
            ring::MappedRingPair rings, const memory::GuestMemory& memory);
    devices::SendStatus send(wire::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                             std::span<const std::byte> payload) override;
    const memory::GuestMemory& guest_memory() const override { return memory; }
    void fault(devices::HostFault fault, std::uint64_t trans_id) override;
    void name_operation(std::uint64_t trans_id, std::string_view operation) override;
    // Writes one packet as it is (no fault rules), records it, and tracks
    // which requests it completes.
    devices::SendStatus write(wire::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                              std::span<const std::byte> payload);

    Session& session;
    std::uint32_t relid;
    devices::Device& device;
    ring::MappedRingPair rings;
    const memory::GuestMemory& memory;
    ring::RingReader reader;
    ring::RingWriter writer;
    std::uint64_t uncommitted = 0;  // packets written since the last commit
    // A send found the ring full and set pending_send_sz to this many bytes.
    std::optional<std::uint32_t> waiting_for_space;
    std::optional<std::string> broken;
    // Fault state: requests read and not yet completed, recently completed
    // ids (oldest first), completions held back, extra signals to give.
    std::set<std::uint64_t> in_flight;
    // The operations the model named for requests in flight (fault rules
    // match on them); an entry goes with its request's completion.
    std::map<std::uint64_t, std::string> operations;
    std::deque<std::uint64_t> completed;
    std::deque<Held> held;
    std::uint32_t spray = 0;
    // flood_ms: until when, the request whose completion started it, the
    // packets written so far, the payload each one carries; passes made and
    // how many found everything already read (logged at its end).
    struct Flood {
      devices::DeviceClock::time_point until;
      std::uint64_t trans_id = 0;
      std::uint64_t written = 0;
      std::vector<std::byte> payload;
      std::uint64_t passes = 0;
      std::uint64_t found_empty = 0;
    };
    std::optional<Flood> flood;
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
  // Ends a wait for ring room (pending_send_sz) and resume()s the model so
  // what it holds back goes first; false if that found the ring corrupt.
  bool resume_model(Channel& ch);
  void commit(Channel& ch, bool read_signal);
  void recheck_space(Channel& ch);
  void mark_broken(Channel& ch, const std::string& reason);
  void signal_channel(std::uint32_t relid);

  // ---- fault rules ----
  [[nodiscard]] devices::DeviceClock::time_point now() const;
  void record_fault(std::uint32_t relid, devices::HostFault fault, std::uint64_t trans_id,
                    std::uint64_t arg);
  // A model's send with the completion rules applied.
  devices::SendStatus faulty_send(Channel& ch, wire::PacketType type, std::uint16_t flags,
                                  std::uint64_t trans_id, std::span<const std::byte> payload);
  void hold(Channel& ch, std::optional<devices::DeviceClock::time_point> due, wire::PacketType type,
            std::uint16_t flags, std::uint64_t trans_id, std::span<const std::byte> payload);
  // Sends held completions that are due (`reordered`: also those waiting for
  // the next completion; `all`: every one), in order, until the ring is full.
  void release_held(Channel& ch, bool reordered, bool all);
  // The id a wrong_id action sends instead of `trans_id`.
  std::uint64_t wrong_id(const Channel& ch, control::WrongId::Kind kind, std::uint64_t trans_id);
  // A block of at most `max` (>= 1) consecutive unknown ids from
  // next_unknown_id_ on: none in flight on `ch`, none equal to `avoid`. The
  // caller advances next_unknown_id_ past those it uses.
  [[nodiscard]] std::pair<std::uint64_t, std::uint32_t> unknown_ids(const Channel& ch, std::uint64_t avoid,
                                                                    std::uint32_t max) const;
  // Channel-level rules on a guest message, before the server handles it.
  void message_faults(std::span<const std::byte> message);
  // Whether the request just read trips rescind_after_in_flight.
  bool rescind_in_flight(Channel& ch, const wire::VmpacketDescriptor& d);
  // Windows that ended: stopped rings drain again, withheld signals are given.
  void end_windows();
  // flood_ms: starts (or prolongs) the channel's flood, fills the ring once
  // more, ends it (a flood_end event with the packets written).
  void start_flood(Channel& ch, std::uint64_t trans_id, std::uint32_t ms, std::span<const std::byte> payload);
  void pump_flood(Channel& ch);
  void end_flood(Channel& ch);

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
  std::set<std::uint32_t> stalled_;   // not drained (stop_draining)
  std::set<std::uint32_t> withheld_;  // owe the guest a signal (withhold_interrupts)
  std::uint64_t next_unknown_id_ = std::uint64_t{1} << 63;
  std::map<std::uint32_t, devices::Device*> devices_;  // by relid
  std::map<std::uint32_t, std::unique_ptr<Channel>> channels_;  // open ones, by relid
  std::map<std::uint32_t, std::string> broken_;  // sticky until the channel reopens
  SessionStats stats_;
  server::Server server_;  // last: its constructor may not call back, but its users come first
};

}  // namespace vscsim::host
