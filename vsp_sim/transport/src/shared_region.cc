#include "vscsim/transport/shared_region.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace vscsim::transport {
namespace {

std::atomic_ref<std::uint64_t> word64(std::byte* words, std::uint32_t index) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(words + std::size_t{index} * 8));
}

template <typename T>
void store_shared(T& field, T value) {
  std::atomic_ref<T>(field).store(value, std::memory_order_release);
}

}  // namespace

bool EventBitmap::set(std::uint32_t relid) {
  if (relid >= layout::kEventBits) {
    return false;
  }
  word64(words_, relid / 64).fetch_or(std::uint64_t{1} << (relid % 64), std::memory_order_seq_cst);
  return true;
}

std::vector<std::uint32_t> EventBitmap::take_all() {
  std::vector<std::uint32_t> relids;
  for (std::uint32_t w = 0; w < kWords; ++w) {
    auto word = word64(words_, w);
    // A plain load first skips the write (and the cache-line steal) for empty words.
    if (word.load(std::memory_order_relaxed) == 0) {
      continue;
    }
    std::uint64_t bits = word.exchange(0, std::memory_order_acquire);
    while (bits != 0) {
      const int bit = std::countr_zero(bits);
      relids.push_back(w * 64 + static_cast<std::uint32_t>(bit));
      bits &= bits - 1;
    }
  }
  return relids;
}

bool EventBitmap::test(std::uint32_t relid) const {
  if (relid >= layout::kEventBits) {
    return false;
  }
  return (word64(words_, relid / 64).load(std::memory_order_acquire) >> (relid % 64)) & 1U;
}

SharedRegion SharedRegion::create(std::uint64_t size, std::uint16_t host_peer_id) {
  if (size < layout::kMinRegionSize || size > layout::kMaxRegionSize || !std::has_single_bit(size)) {
    throw std::invalid_argument(fmt::format("shared region size {} must be a power of two in [{}, {}]", size,
                                            layout::kMinRegionSize, layout::kMaxRegionSize));
  }
  UniqueFd fd(::memfd_create("vscsim-ivshmem", MFD_CLOEXEC));
  if (!fd) {
    throw std::system_error(errno, std::generic_category(), "memfd_create");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    throw std::system_error(errno, std::generic_category(), "ftruncate shared region");
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(), "mmap shared region");
  }
  SharedRegion region(std::move(fd), static_cast<std::byte*>(base), size, host_peer_id);
  region.write_header();
  return region;
}

SharedRegion::SharedRegion(UniqueFd fd, std::byte* base, std::uint64_t size, std::uint16_t host_peer_id)
    : fd_(std::move(fd)), base_(base), size_(size), host_peer_id_(host_peer_id) {}

SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      host_peer_id_(other.host_peer_id_),
      generation_(other.generation_),
      heartbeat_(other.heartbeat_) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) {
      ::munmap(base_, size_);
    }
    fd_ = std::move(other.fd_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    host_peer_id_ = other.host_peer_id_;
    generation_ = other.generation_;
    heartbeat_ = other.heartbeat_;
  }
  return *this;
}

SharedRegion::~SharedRegion() {
  if (base_ != nullptr) {
    ::munmap(base_, size_);
  }
}

layout::RegionHeader* SharedRegion::header() const {
  return reinterpret_cast<layout::RegionHeader*>(base_ + layout::kHeaderOffset);
}

void SharedRegion::write_header() {
  // Only called before the fd is handed to any peer: plain stores suffice.
  std::memset(base_, 0, layout::kLayoutEnd);
  layout::RegionHeader& h = *header();
  h.magic = layout::kMagic;
  h.layout_version = layout::kLayoutVersion;
  h.header_size = layout::kHeaderSize;
  h.region_size = size_;
  h.host_peer_id = host_peer_id_;
  h.guest_peer_id = layout::kNoGuest;
  h.vectors = layout::kVectorCount;
  h.slot_size = layout::kSlotSize;
  h.slot_count = layout::kSlotCount;
  h.event_bits = layout::kEventBits;
  h.h2g_control_offset = layout::kH2gControlOffset;
  h.g2h_control_offset = layout::kG2hControlOffset;
  h.h2g_slots_offset = layout::kH2gSlotsOffset;
  h.g2h_slots_offset = layout::kG2hSlotsOffset;
  h.h2g_events_offset = layout::kH2gEventsOffset;
  h.g2h_events_offset = layout::kG2hEventsOffset;
  h.host_state = static_cast<std::uint32_t>(layout::HostState::kInitialising);
  h.generation = generation_;
  h.heartbeat = heartbeat_;
}

void SharedRegion::reset_for_guest(std::uint32_t guest_peer_id) {
  set_state(layout::HostState::kInitialising);
  // Zero indices, bitmaps and slots. A guest must not be using the region
  // while the state is kInitialising, so plain stores are enough here; the
  // release store of kRunning below publishes them.
  std::memset(base_ + layout::kH2gControlOffset, 0, layout::kLayoutEnd - layout::kH2gControlOffset);
  layout::RegionHeader& h = *header();
  store_shared(h.guest_peer_id, guest_peer_id);
  ++generation_;
  store_shared(h.generation, generation_);
  set_state(layout::HostState::kRunning);
}

void SharedRegion::set_state(layout::HostState state) {
  store_shared(header()->host_state, static_cast<std::uint32_t>(state));
}

void SharedRegion::beat() {
  ++heartbeat_;
  store_shared(header()->heartbeat, heartbeat_);
}

MailboxView SharedRegion::host_to_guest() const {
  return {reinterpret_cast<layout::MailboxControl*>(base_ + layout::kH2gControlOffset), base_ + layout::kH2gSlotsOffset};
}

MailboxView SharedRegion::guest_to_host() const {
  return {reinterpret_cast<layout::MailboxControl*>(base_ + layout::kG2hControlOffset), base_ + layout::kG2hSlotsOffset};
}

EventBitmap SharedRegion::host_to_guest_events() const { return EventBitmap(base_ + layout::kH2gEventsOffset); }

EventBitmap SharedRegion::guest_to_host_events() const { return EventBitmap(base_ + layout::kG2hEventsOffset); }

}  // namespace vscsim::transport
