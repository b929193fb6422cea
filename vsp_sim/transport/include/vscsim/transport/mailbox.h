// One direction of the control mailbox in BAR2: a single-producer,
// single-consumer queue of fixed 256-byte slots, each carrying one VMBus
// channel message (docs/transport.md, "Mailboxes").
//
// Each side keeps a private copy of the index it owns and never reads it back
// from shared memory; the index it loads from the other side is read once per
// operation and validated. A violation marks the endpoint broken: sticky,
// reported with a reason, never clamped. Neither class is thread-safe: one
// thread owns an endpoint.
//
// Memory ordering (tags appear on the fences and atomics in mailbox.cc):
//   [A] producer: load-acquire tail   pairs with [D] consumer: store-release tail
//       (the consumer has finished copying a slot before the producer reuses it)
//   [B] producer: store-release head  pairs with [C] consumer: load-acquire head
//       (a slot's contents are visible before the index that publishes it)
//   [E] producer: seq_cst exchange waiting=1; seq_cst reload of tail
//   [F] consumer: seq_cst store of tail; seq_cst exchange waiting->0
//       (each is "store; full fence; load"; seq_cst atomics instead of a
//        standalone fence because TSan cannot model fences)
//       (Dekker pair: either the producer sees the freed slot, or the consumer
//        sees the flag and signals the producer; a wake-up is never lost)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

#include "vscsim/transport/layout.h"

namespace vscsim::transport {

// A raw view of one direction inside a mapped region.
struct MailboxView {
  layout::MailboxControl* control = nullptr;
  std::byte* slots = nullptr;  // layout::kSlotCount slots of layout::kSlotSize
};

enum class MailboxStatus {
  kOk,        // posted / drained
  kFull,      // every slot is in use; the consumer was asked to signal on space
  kInvalid,   // the caller's message is outside kMinPayload..kMaxPayload (caller bug)
  kBroken,    // the other side wrote an impossible index or slot; sticky
};

[[nodiscard]] std::string_view to_string(MailboxStatus status);
std::ostream& operator<<(std::ostream& out, MailboxStatus status);

struct [[nodiscard]] PostResult {
  MailboxStatus status = MailboxStatus::kOk;
  [[nodiscard]] bool ok() const { return status == MailboxStatus::kOk; }
};

struct [[nodiscard]] DrainResult {
  MailboxStatus status = MailboxStatus::kOk;  // kOk or kBroken
  std::uint32_t drained = 0;                  // messages handed to the callback
  bool more_pending = false;                  // stopped at the bound with messages left
  bool wake_producer = false;                 // producer was waiting for space: signal it
};

class MailboxProducer {
 public:
  // Adopts the current shared head as its own (the producer's field).
  explicit MailboxProducer(MailboxView view);

  // Copies `message` into the next slot and publishes it. The caller signals
  // the consumer (vector kVectorControl) after a batch of posts.
  PostResult post(std::span<const std::byte> message);

  [[nodiscard]] bool broken() const { return !broken_reason_.empty(); }
  [[nodiscard]] const std::string& broken_reason() const { return broken_reason_; }
  [[nodiscard]] std::uint32_t head() const { return head_; }

 private:
  bool load_tail(std::uint32_t& used, std::memory_order order = std::memory_order_acquire);  // false if broken

  MailboxView view_;
  std::uint32_t head_ = 0;
  std::string broken_reason_;
};

class MailboxConsumer {
 public:
  using Handler = std::function<void(std::span<const std::byte> message)>;

  // Adopts the current shared tail as its own (the consumer's field).
  explicit MailboxConsumer(MailboxView view);

  // Hands at most `max_messages` messages, in order, to `handler`. Each message
  // is copied out of shared memory and validated before the handler sees it;
  // the span is valid only during the call.
  DrainResult drain(std::uint32_t max_messages, const Handler& handler);

  // Drops every published message without handing it out (a guest attaching
  // discards what a previous session left).
  DrainResult discard_all();

  [[nodiscard]] bool broken() const { return !broken_reason_.empty(); }
  [[nodiscard]] const std::string& broken_reason() const { return broken_reason_; }
  [[nodiscard]] std::uint32_t tail() const { return tail_; }

 private:
  MailboxView view_;
  std::uint32_t tail_ = 0;
  std::string broken_reason_;
};

}  // namespace vscsim::transport
