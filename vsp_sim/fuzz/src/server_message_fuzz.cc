// Fuzzes the channel server with a guest that sends anything and a host that
// rescinds, reoffers and adds devices at arbitrary moments. The server must
// never crash, must only post well-formed host-to-guest messages, and every
// ring it reports open must be a real split of guest pages.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "vscsim/server/server.h"

using namespace vscsim;

namespace {

bool is_host_to_guest(std::uint32_t type) {
  using T = wire::ChannelMessageType;
  switch (static_cast<T>(type)) {
    case T::kOfferChannel: case T::kRescindChannelOffer: case T::kAllOffersDelivered:
    case T::kOpenChannelResult: case T::kGpadlCreated: case T::kGpadlTorndown:
    case T::kVersionResponse: case T::kUnloadResponse:
      return true;
    default:
      return false;
  }
}

class CheckingNotifier : public server::Notifier {
 public:
  void post_message(std::span<const std::byte> m) override {
    if (m.size() < sizeof(wire::ChannelMessageHeader) || m.size() > wire::kMaxMessagePayload) std::abort();
    std::uint32_t type;
    std::memcpy(&type, m.data(), sizeof type);
    if (!is_host_to_guest(type)) std::abort();
  }
  void channel_opened(std::uint32_t, const server::RingInfo& ring) override {
    if (ring.pages.size() < 4) std::abort();  // two rings, each a header and a data page
    if (ring.downstream_page_offset < 2 || ring.downstream_page_offset > ring.pages.size() - 2) std::abort();
  }
};

const memory::GuestMemory& guest_memory() {
  static const memory::GuestMemory mem = [] {
    const int fd = ::memfd_create("server_fuzz_ram", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, 4 << 20) != 0) std::abort();
    auto layout = memory::MemoryLayout::split(4 << 20, 2 << 20).value();
    auto m = memory::GuestMemory::map_fd(fd, layout);
    if (!m.ok()) std::abort();
    return std::move(m).value();
  }();
  return mem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CheckingNotifier notifier;
  server::ServerConfig config;
  config.max_channels = 4;
  config.gpadl_limits.max_gpadls = 8;
  server::Server srv(guest_memory(), notifier, config);
  const auto instance = [](std::uint8_t n) {
    wire::Guid g;
    g.bytes[0] = n;
    return g;
  };
  (void)srv.add_device({instance(0xA0), instance(1)});

  const std::uint8_t* p = data;
  const std::uint8_t* end = data + size;
  std::uint64_t sent = 0;
  for (int step = 0; step < 256 && p < end; ++step) {
    const std::uint8_t op = *p++;
    const std::uint32_t relid = p < end ? *p % 6 : 1;
    if (op >= 0xF0) {  // host events
      if (p < end) ++p;
      switch (op & 7) {
        case 0: (void)srv.add_device({instance(0xA0), instance(static_cast<std::uint8_t>(step))}); break;
        case 1: (void)srv.rescind(relid); break;
        case 2: (void)srv.reoffer(relid); break;
        case 3: (void)srv.remove_device(relid); break;
        case 4: (void)srv.complete_open(relid, op & 8 ? 0 : 1); break;
        default:
          if (auto* f = srv.faults(relid)) f->hold_next_open = true;
          break;
      }
      continue;
    }
    // A guest message: the type from the op byte (mostly a known one), then
    // a length byte and that many bytes of body.
    if (p == end) break;
    const std::size_t len = std::min<std::size_t>(*p++, wire::kMaxMessagePayload + 8);
    std::vector<std::byte> msg(sizeof(wire::ChannelMessageHeader) + std::min<std::size_t>(len, end - p));
    const std::uint32_t type = op < 0xC0 ? op % 18 : op;
    std::memcpy(msg.data(), &type, sizeof type);
    std::memcpy(msg.data() + sizeof(wire::ChannelMessageHeader), p, msg.size() - sizeof(wire::ChannelMessageHeader));
    p += msg.size() - sizeof(wire::ChannelMessageHeader);
    (void)srv.handle_message(msg);
    ++sent;
  }
  if (srv.stats().messages != sent) std::abort();
  return 0;
}
