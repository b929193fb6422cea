// The Azure Blob fast-path device (interface 0590b792-db64-45cc-81db-b8d70c577c9e):
// the host side of the az_blob VSC, backed by a blobstore::Store.
//
// Per guest packet (docs/azure-blob.md sections 2 and 4):
//   - not GPA-direct, no COMPLETION_REQUESTED, or trans_id 0: no answer is
//     possible or wanted; counted as a bad packet, logged rate-limited;
//   - a GPA-direct packet whose range list, request struct or buffer windows
//     are wrong (blob_wire::check_request), or whose pages are not guest RAM:
//     completed with wire status 1 (invalid request);
//   - otherwise, when its time comes (at once, or after the delay): the
//     request bytes are copied out of the guest's pages and decoded, put data
//     copied out (the guest may change its pages meanwhile: only the copies
//     are used), the payload run on the store, get data (only into a data
//     buffer with room: data_valid < length) and the serialized Response
//     written into the guest's pages, and a VM_PKT_COMP with the same
//     trans_id sent: {12, wire status, response_len}.
//
// Delay (set_delay, the control command blob-delay, vsp-sim --blob-delay-ms):
// a request arriving at t completes at t + delay; if that is later than
// t + timeout_ms (and timeout_ms > 0), it completes at t + timeout_ms with
// wire status 2 instead and the operation never runs. Guest memory is read
// and written when the request runs, not when it arrives. A late delay
// (set_delay(d, DelayMode::kIgnoreTimeout), `blob-delay <relid> <ms> late`)
// is a misbehaving host: it answers at t + delay whatever timeout_ms says, so
// the answer may reach a guest that gave up long ago.
//
// Dropped completions (drop_completions, the control command blob-drop): the
// next `after` requests are answered as usual, then the next `count` are
// carried out (the store operation happens, guest pages are written) but
// their completions are never sent: the answer is lost on the way. Each is
// reported to the port as HostFault::kDropCompletion (a "host_fault" event in
// the packet trace) and counted as withheld. A request is counted when it
// arrives, so a delay does not change which ones are dropped.
//
// Completions leave in the order they become ready. One that finds the
// host-to-guest ring full waits in the model (with all after it) until
// resume(); a closed channel drops what waits. At most kMaxPending requests
// wait at once; more are dropped (counted) and the guest's own timeout
// reports them.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/blobstore/store.h"
#include "vscsim/devices/blob_wire.h"
#include "vscsim/base/result.h"
#include "vscsim/devices/device.h"
#include "vscsim/memory/address.h"

namespace vscsim::devices {

struct BlobCounters {
  std::uint64_t requests = 0;     // packets that will get a completion
  std::uint64_t completions = 0;  // completions sent
  std::uint64_t bad_packets = 0;  // packets that get none (wrong type, no id, none asked for)
  std::uint64_t invalid = 0;      // answers made with wire status 1
  std::uint64_t timed_out = 0;    // answers made with wire status 2
  std::uint64_t dropped = 0;      // never completed: over the cap, or the channel closed
  std::uint64_t bytes_in = 0;     // put data copied out of guest pages
  std::uint64_t bytes_out = 0;    // get data written into guest pages
  std::uint64_t injected = 0;     // stray completions sent on purpose (inject_completion)
  std::uint64_t withheld = 0;     // completions not sent on purpose (drop_completions)
};

class Blob final : public Device {
 public:
  static constexpr std::size_t kMaxPending = 4096;
  // Page numbers held by delayed requests, all together (8 bytes each).
  static constexpr std::size_t kMaxPendingPages = std::size_t{1} << 21;

  explicit Blob(std::unique_ptr<blobstore::Store> store, wire::Guid instance = default_instance());
  static wire::Guid default_interface();
  // Fixed, so runs are reproducible; further devices use numbered_instance().
  static wire::Guid default_instance();

  [[nodiscard]] std::string_view kind() const override { return "blob"; }
  [[nodiscard]] wire::Guid interface_type() const override { return default_interface(); }
  [[nodiscard]] wire::Guid instance() const override { return instance_; }

  void open(ChannelPort& port) override;
  void packet(const ring::PacketView& packet) override;
  void close() override;
  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] std::optional<DeviceClock::time_point> next_deadline() const override;
  void tick(DeviceClock::time_point now) override;
  void resume() override;
  [[nodiscard]] std::optional<CompletionLayout> completion_layout() const override {
    return CompletionLayout{blob_wire::kCompletionLength, offsetof(blob_wire::Completion, error),
                            offsetof(blob_wire::Completion, response_len),
                            blob_wire::kMaxPages * blob_wire::kPageBytes};
  }
  // The field names of vscsim.blob.Request's `op`: "create_container", "put", ...
  [[nodiscard]] std::vector<std::string> operation_names() const override;

  // Completion delay for requests that arrive from now on (0: at once).
  enum class DelayMode { kHonourTimeout, kIgnoreTimeout };
  void set_delay(std::chrono::milliseconds delay, DelayMode mode = DelayMode::kHonourTimeout) {
    delay_ = delay;
    delay_mode_ = mode;
  }
  [[nodiscard]] std::chrono::milliseconds delay() const { return delay_; }

  // Sends a completion nobody asked for (a host bug the guest must survive):
  // `trans_id` as given (0, unknown, stale), the first `payload_bytes` bytes
  // (at most 12) of a success completion. Fails unless the channel is open
  // and the ring has room.
  [[nodiscard]] Result<void, std::string> inject_completion(std::uint64_t trans_id,
                                                            std::uint32_t payload_bytes);

  // Lets `after` more requests through, then withholds the completions of the
  // next `count` (see the top of this file); count 0 cancels a pending drop.
  void drop_completions(std::uint32_t count, std::uint32_t after) {
    drop_count_ = count;
    drop_after_ = count == 0 ? 0 : after;
  }

  [[nodiscard]] const BlobCounters& counters() const { return counters_; }
  // Requests waiting for their time or for ring space.
  [[nodiscard]] std::size_t pending() const { return delayed_.size() + ready_.size(); }
  [[nodiscard]] blobstore::Store& store() { return *store_; }

 private:
  // A request that passed the wire checks, to run when its time comes.
  struct Work {
    blob_wire::CheckedRequest request;
    std::vector<memory::Pfn> pages;
  };
  // A request waiting for its time: run `work`, or answer `status` without
  // running anything (an invalid or timed-out request).
  // `drop`: carried out, but its completion is withheld (drop_completions).
  struct Delayed {
    std::uint64_t trans_id;
    std::optional<Work> work;
    blob_wire::WireStatus status;
    bool drop;
  };
  struct Ready {
    std::uint64_t trans_id;
    blob_wire::Completion completion;
  };

  // Whether the request arriving now is one whose completion is withheld.
  bool take_drop();
  void schedule(std::uint64_t trans_id, std::optional<Work> work, blob_wire::WireStatus status,
                std::uint32_t timeout_ms, bool drop);
  // Runs `work` (if any) and completes: queues the answer, or withholds it.
  void finish(std::uint64_t trans_id, const std::optional<Work>& work, blob_wire::WireStatus status,
              bool drop);
  blob_wire::Completion run(std::uint64_t trans_id, const Work& work);
  void complete(std::uint64_t trans_id, blob_wire::WireStatus status, std::uint32_t response_len = 0);
  void flush();
  void drop_all();

  std::unique_ptr<blobstore::Store> store_;
  wire::Guid instance_;
  ChannelPort* port_ = nullptr;
  std::chrono::milliseconds delay_{0};
  DelayMode delay_mode_ = DelayMode::kHonourTimeout;
  std::uint32_t drop_count_ = 0;  // completions still to withhold
  std::uint32_t drop_after_ = 0;  // requests still to let through first
  DeviceClock::time_point now_{};
  // Due time -> request; equal times keep their arrival order.
  std::multimap<DeviceClock::time_point, Delayed> delayed_;
  std::size_t delayed_pages_ = 0;
  std::deque<Ready> ready_;
  BlobCounters counters_;
};

}  // namespace vscsim::devices
