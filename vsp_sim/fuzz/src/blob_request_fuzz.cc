// Fuzzes the Azure Blob device model with one guest packet and the guest RAM
// its page list may name: both come from the input. Whatever they hold, the
// model must not crash, must answer only what asked for an answer, once, with
// a well-formed completion carrying the packet's id, and must never report
// more response bytes than the request's response buffer holds.
//
// Input: byte 0 selects options (bit 0: make the packet GPA-direct; bit 1:
// fold page numbers into guest RAM; bit 2: the ring starts full; bits 3-4:
// completion delay none / 10 ms / 5 s; bit 5: ask for a completion with a
// non-zero id), bytes 1-2 the packet's length (little-endian, at most 4096),
// then the packet, then the first bytes of guest RAM.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "vscsim/blobstore/memory_store.h"
#include "vscsim/devices/blob.h"

using namespace vscsim;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kRamPages = 64;
constexpr std::size_t kMaxPacket = 4096;

struct Ram {
  Ram() {
    fd = ::memfd_create("blob_fuzz_ram", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, kRamPages * memory::kPageSize) != 0) std::abort();
    auto m = memory::GuestMemory::map_fd(fd, memory::MemoryLayout::q35(kRamPages * memory::kPageSize).value());
    if (!m.ok()) std::abort();
    mem.emplace(std::move(m).value());
  }
  int fd;
  std::optional<memory::GuestMemory> mem;
};

Ram& ram() {
  static Ram r;
  return r;
}

struct Sent {
  std::uint16_t type;
  std::uint16_t flags;
  std::uint64_t trans_id;
  std::vector<std::byte> payload;
};

struct Port : devices::ChannelPort {
  devices::SendStatus send(wire::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                           std::span<const std::byte> payload) override {
    if (full) return devices::SendStatus::kFull;
    sent.push_back({static_cast<std::uint16_t>(type), flags, trans_id, {payload.begin(), payload.end()}});
    return devices::SendStatus::kOk;
  }
  const memory::GuestMemory& guest_memory() const override { return *ram().mem; }
  bool full = false;
  std::vector<Sent> sent;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t options = data[0];
  const std::size_t wanted = std::min<std::size_t>(data[1] | (data[2] << 8), kMaxPacket);
  const std::size_t packet_len = std::min(wanted, size - 3);
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 3);

  // Guest RAM: the rest of the input, then zeros (every run starts alike).
  const memory::GuestMemory& mem = *ram().mem;
  std::vector<std::byte> image(kRamPages * memory::kPageSize);
  const std::size_t ram_len = std::min(image.size(), size - 3 - packet_len);
  std::memcpy(image.data(), bytes + packet_len, ram_len);
  if (!mem.write(memory::GuestAddress(0), image).ok()) std::abort();

  // The packet as the ring reader hands it over: at least a descriptor, a
  // multiple of 8 bytes, len8 matching (the ring checked those).
  std::vector<std::byte> packet(std::max<std::size_t>(16, (packet_len + 7) / 8 * 8));
  std::memcpy(packet.data(), bytes, packet_len);
  wire::VmpacketDescriptor d{};
  std::memcpy(&d, packet.data(), sizeof d);
  d.len8 = static_cast<std::uint16_t>(packet.size() / 8);
  if (options & 1) d.type = static_cast<std::uint16_t>(wire::PacketType::kDataUsingGpaDirect);
  if (options & 32) {
    d.flags |= wire::kFlagCompletionRequested;
    if (d.trans_id == 0) d.trans_id = 1;
  }
  std::memcpy(packet.data(), &d, sizeof d);
  if ((options & 2) && packet.size() >= sizeof(wire::PacketMpbArray)) {
    // Page numbers inside RAM, so requests reach guest memory and the store.
    for (std::size_t at = sizeof(wire::PacketMpbArray); at + 8 <= std::min<std::size_t>(packet.size(), std::size_t{d.offset8} * 8); at += 8) {
      std::uint64_t pfn;
      std::memcpy(&pfn, packet.data() + at, 8);
      pfn %= kRamPages;
      std::memcpy(packet.data() + at, &pfn, 8);
    }
  }
  ring::PacketView view{d, packet};

  static const devices::DeviceClock::time_point t0 = devices::DeviceClock::time_point{} + 1h;
  devices::Blob blob(blobstore::make_memory_store(blobstore::Limits{1 << 20, 64}));
  Port port;
  port.full = (options & 4) != 0;
  static constexpr std::chrono::milliseconds kDelays[] = {0ms, 10ms, 5000ms, 0ms};
  blob.set_delay(kDelays[(options >> 3) & 3]);
  blob.open(port);
  blob.tick(t0);
  blob.packet(view);
  blob.tick(t0 + 10s);
  port.full = false;
  blob.resume();

  const auto& c = blob.counters();
  if (c.requests + c.bad_packets != 1) std::abort();
  if (blob.pending() != 0) std::abort();
  const bool answerable = d.type == static_cast<std::uint16_t>(wire::PacketType::kDataUsingGpaDirect) &&
                          (d.flags & wire::kFlagCompletionRequested) != 0 && d.trans_id != 0;
  if (port.sent.size() != (answerable ? 1u : 0u) || c.requests != port.sent.size()) std::abort();
  for (const Sent& s : port.sent) {
    if (s.type != static_cast<std::uint16_t>(wire::PacketType::kCompletion) || s.flags != 0) std::abort();
    if (s.trans_id != d.trans_id || s.payload.size() != sizeof(devices::blob_wire::Completion)) std::abort();
    devices::blob_wire::Completion done;
    std::memcpy(&done, s.payload.data(), sizeof done);
    if (done.length != 12 || done.error > 4) std::abort();
    if (done.error != 0 && done.response_len != 0) std::abort();
    if (done.response_len != 0) {
      // Only a request that passed the checks gets response bytes, and never
      // more than its response buffer holds.
      const std::size_t at = std::size_t{d.offset8} * 8;
      if (at + sizeof(devices::blob_wire::Request) > packet.size()) std::abort();
      devices::blob_wire::Request r;
      std::memcpy(&r, packet.data() + at, sizeof r);
      if (done.response_len > r.response_buffer_length) std::abort();
    }
  }
  blob.close();
  return 0;
}
