#include "vscsim/transport/mailbox.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cstring>
#include <ostream>

namespace vscsim::transport {
namespace {

using layout::kMaxPayload;
using layout::kMinPayload;
using layout::kSlotCount;
using layout::kSlotSize;

std::atomic_ref<std::uint32_t> shared_word(std::uint32_t& word) {
  return std::atomic_ref<std::uint32_t>(word);
}

std::byte* slot_at(const MailboxView& view, std::uint32_t index) {
  return view.slots + std::size_t{index % kSlotCount} * kSlotSize;
}

}  // namespace

std::string_view to_string(MailboxStatus status) {
  switch (status) {
    case MailboxStatus::kOk: return "ok";
    case MailboxStatus::kFull: return "full";
    case MailboxStatus::kInvalid: return "invalid";
    case MailboxStatus::kBroken: return "broken";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, MailboxStatus status) { return out << to_string(status); }

MailboxProducer::MailboxProducer(MailboxView view)
    : view_(view), head_(shared_word(view.control->head).load(std::memory_order_relaxed)) {}

bool MailboxProducer::load_tail(std::uint32_t& used, std::memory_order order) {
  // Don't trust the consumer: its tail must lie within [head - kSlotCount, head].
  const std::uint32_t tail = shared_word(view_.control->tail).load(order);  // [A]
  used = head_ - tail;
  if (used > kSlotCount) {
    broken_reason_ = fmt::format("consumer tail {} is outside [head {} - {}, head]", tail, head_, kSlotCount);
    return false;
  }
  return true;
}

PostResult MailboxProducer::post(std::span<const std::byte> message) {
  if (broken()) {
    return {MailboxStatus::kBroken};
  }
  if (message.size() < kMinPayload || message.size() > kMaxPayload) {
    return {MailboxStatus::kInvalid};
  }
  std::uint32_t used = 0;
  if (!load_tail(used)) {
    return {MailboxStatus::kBroken};
  }
  if (used == kSlotCount) {
    // [E] Ask for a signal on space, then look once more: the consumer may
    // have freed a slot between our load and the flag becoming visible. The
    // seq_cst exchange and the seq_cst reload act as store; full fence; load
    // (written without a standalone fence, which TSan cannot model).
    shared_word(view_.control->producer_waiting).exchange(1, std::memory_order_seq_cst);
    if (!load_tail(used, std::memory_order_seq_cst)) {
      return {MailboxStatus::kBroken};
    }
    if (used == kSlotCount) {
      return {MailboxStatus::kFull};
    }
  }

  // Build the whole slot privately (padding zeroed), then copy it in one go.
  std::array<std::byte, kSlotSize> slot{};
  layout::SlotHeader header{};
  header.size = static_cast<std::uint32_t>(message.size());
  header.index = head_;
  std::memcpy(slot.data(), &header, sizeof(header));
  std::memcpy(slot.data() + sizeof(header), message.data(), message.size());
  std::memcpy(slot_at(view_, head_), slot.data(), slot.size());

  ++head_;
  shared_word(view_.control->head).store(head_, std::memory_order_release);  // [B]
  return {MailboxStatus::kOk};
}

MailboxConsumer::MailboxConsumer(MailboxView view)
    : view_(view), tail_(shared_word(view.control->tail).load(std::memory_order_relaxed)) {}

DrainResult MailboxConsumer::drain(std::uint32_t max_messages, const Handler& handler) {
  DrainResult result;
  if (broken()) {
    result.status = MailboxStatus::kBroken;
    return result;
  }
  // Read the producer's head once per drain. Don't trust it: it may be at most
  // kSlotCount messages ahead of our tail and never behind it.
  const std::uint32_t head = shared_word(view_.control->head).load(std::memory_order_acquire);  // [C]
  const std::uint32_t available = head - tail_;
  if (available > kSlotCount) {
    broken_reason_ = fmt::format("producer head {} is outside [tail {}, tail + {}]", head, tail_, kSlotCount);
    result.status = MailboxStatus::kBroken;
    return result;
  }

  std::array<std::byte, kSlotSize> copy{};
  while (result.drained < available && result.drained < max_messages) {
    // Read the slot once into private memory; validate and use only the copy.
    std::memcpy(copy.data(), slot_at(view_, tail_), copy.size());
    layout::SlotHeader header{};
    std::memcpy(&header, copy.data(), sizeof(header));
    if (header.size < kMinPayload || header.size > kMaxPayload) {
      broken_reason_ = fmt::format("slot {} has payload size {} (allowed {}..{})", tail_, header.size,
                                   kMinPayload, kMaxPayload);
      break;
    }
    if (header.index != tail_) {
      broken_reason_ = fmt::format("slot {} carries index {}", tail_, header.index);
      break;
    }
    handler(std::span<const std::byte>(copy.data() + sizeof(header), header.size));
    ++tail_;
    ++result.drained;
  }

  if (result.drained > 0) {
    // [D] release, and [F] pairs with [E]: the seq_cst store of the tail and
    // the seq_cst exchange of the flag act as store; full fence; load.
    shared_word(view_.control->tail).store(tail_, std::memory_order_seq_cst);
    result.wake_producer = shared_word(view_.control->producer_waiting).exchange(0, std::memory_order_seq_cst) != 0;
  }
  if (broken()) {
    result.status = MailboxStatus::kBroken;
    return result;
  }
  result.more_pending = result.drained < available;
  return result;
}

DrainResult MailboxConsumer::discard_all() {
  return drain(layout::kSlotCount, [](std::span<const std::byte>) {});
}

}  // namespace vscsim::transport
