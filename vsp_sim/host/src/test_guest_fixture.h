// Test fixture: an in-process guest on the far side of a Session. It uses the
// transport's own mailbox endpoints the other way round (the guest produces
// guest-to-host, consumes host-to-guest), the GPADL encoder and the ring
// library's TestGuest, over memfd-backed guest RAM and a real BAR2 region.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "vscsim/gpadl/encode.h"
#include "vscsim/host/session.h"
#include "vscsim/ring/test_guest.h"
#include "vscsim/transport/shared_region.h"
#include "vscsim/wire/channel_messages.h"

namespace vscsim::host::testing {

namespace w = vscsim::wire;
using Message = std::vector<std::byte>;

inline constexpr std::uint64_t kRamPages = 64;

struct GuestRam {
  GuestRam() {
    fd = ::memfd_create("host-test-ram", MFD_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::ftruncate(fd, static_cast<off_t>(kRamPages * memory::kPageSize)) == 0);
  }
  ~GuestRam() { ::close(fd); }
  [[nodiscard]] memory::GuestMemory map() const {
    auto layout = memory::MemoryLayout::q35(kRamPages * memory::kPageSize);
    auto m = memory::GuestMemory::map_fd(fd, layout.value());
    BOOST_REQUIRE(m.ok());
    return std::move(m).value();
  }
  [[nodiscard]] std::string path() const {
    return "/proc/self/fd/" + std::to_string(fd);
  }
  int fd = -1;
};

struct TestGuest {
  explicit TestGuest(transport::SharedRegion& region)
      : to_host(region.guest_to_host()),
        from_host(region.host_to_guest()),
        host_events(region.guest_to_host_events()),
        guest_events(region.host_to_guest_events()) {}

  template <class T>
  void post(const T& msg) {
    BOOST_REQUIRE(to_host.post(std::as_bytes(std::span(&msg, 1))).ok());
  }
  void post_bytes(std::span<const std::byte> m) { BOOST_REQUIRE(to_host.post(m).ok()); }

  // Drains everything the host posted into `inbox`; returns wake_producer.
  bool receive() {
    const auto r = from_host.drain(transport::layout::kSlotCount, [&](std::span<const std::byte> m) {
      inbox.emplace_back(m.begin(), m.end());
    });
    BOOST_REQUIRE(r.status == transport::MailboxStatus::kOk);
    return r.wake_producer;
  }
  template <class T>
  T take(w::ChannelMessageType type) {
    BOOST_REQUIRE_MESSAGE(!inbox.empty(), "no host message, wanted type " << static_cast<int>(type));
    Message m = inbox.front();
    inbox.pop_front();
    T out{};
    BOOST_REQUIRE(m.size() >= sizeof(T));
    std::memcpy(&out, m.data(), sizeof out);
    BOOST_REQUIRE_EQUAL(static_cast<int>(out.header.msgtype), static_cast<int>(type));
    return out;
  }

  transport::MailboxProducer to_host;
  transport::MailboxConsumer from_host;
  transport::EventBitmap host_events;   // guest sets
  transport::EventBitmap guest_events;  // guest takes
  std::deque<Message> inbox;
};

// A session offering `devices`, with the guest's half beside it.
struct SessionFixture {
  explicit SessionFixture(std::vector<devices::Device*> devices,
                          std::map<std::uint32_t, server::ChannelFaults> faults = {},
                          SessionConfig config = {})
      : region(transport::SharedRegion::create(transport::layout::kMinRegionSize, 0)) {
    region.reset_for_guest(1);
    guest.emplace(region);
    guest_mem.emplace(ram.map());
    session.emplace(ram.map(), Bar2::of(region),
                    [this](std::uint16_t v) { signals.push_back(v); }, devices, faults,
                    std::move(config));
  }

  // Vector 0 from the guest, then a host pass, then the guest reads its mailbox.
  void control_round() {
    session->on_guest_signal(transport::layout::kVectorControl);
    session->poll();
    guest->receive();
  }

  void connect() {
    w::InitiateContactMsg ic{};
    ic.header.msgtype = w::ChannelMessageType::kInitiateContact;
    ic.vmbus_version_requested = w::kVersionWin10V5_2;
    ic.interrupt_page = 2;  // message SINT
    guest->post(ic);
    control_round();
    const auto vr = guest->take<w::VersionResponseMsg>(w::ChannelMessageType::kVersionResponse);
    BOOST_REQUIRE_EQUAL(vr.version_supported, 1);
    w::RequestOffersMsg ro{};
    ro.header.msgtype = w::ChannelMessageType::kRequestOffers;
    guest->post(ro);
    control_round();
  }

  // GPADL of 1 + 2 pages per ring on pages [first, first + 6), OPENCHANNEL.
  // The ring headers are initialised (TestGuest) before OPENCHANNEL, as Linux
  // does. Returns the OPENCHANNEL_RESULT status.
  std::uint32_t open(std::uint32_t relid, std::uint64_t first_page = 8) {
    std::vector<memory::Pfn> pages;
    for (std::uint64_t i = 0; i < 6; ++i) pages.emplace_back(first_page + i);
    for (const auto& m : gpadl::encode_gpadl_pages(relid, ++handle, pages)) guest->post_bytes(m);
    control_round();
    const auto created = guest->take<w::GpadlCreatedMsg>(w::ChannelMessageType::kGpadlCreated);
    BOOST_REQUIRE_EQUAL(created.creation_status, 0u);
    auto pair = ring::map_ring_pair(*guest_mem, pages, 3);
    BOOST_REQUIRE(pair.ok());
    rings.emplace(std::move(pair).value());
    ring_guest.emplace(rings->guest_to_host, rings->host_to_guest);
    w::OpenChannelMsg open{};
    open.header.msgtype = w::ChannelMessageType::kOpenChannel;
    open.child_relid = relid;
    open.openid = relid;
    open.ringbuffer_gpadlhandle = handle;
    open.downstream_ringbuffer_pageoffset = 3;
    guest->post(open);
    control_round();
    return guest->take<w::OpenResultMsg>(w::ChannelMessageType::kOpenChannelResult).status;
  }

  // The guest writes a packet and signals as Linux would (bit + vector 1 only
  // when the ring rules say so); then a host pass.
  void send_inband(std::uint32_t relid, std::span<const std::byte> payload) {
    auto r = ring_guest->send(w::PacketType::kDataInband, w::kFlagCompletionRequested, 0x55, payload);
    BOOST_REQUIRE(r.ok());
    if (*r) signal_host(relid);
    session->poll();
  }

  // The guest's signal for a channel: its event bit, then vector 1.
  void signal_host(std::uint32_t relid) {
    BOOST_REQUIRE(guest->host_events.set(relid));
    session->on_guest_signal(transport::layout::kVectorChannel);
  }

  std::size_t count_signals(std::uint16_t v) const {
    return static_cast<std::size_t>(std::count(signals.begin(), signals.end(), v));
  }

  GuestRam ram;
  transport::SharedRegion region;
  std::optional<TestGuest> guest;
  std::optional<memory::GuestMemory> guest_mem;
  std::vector<std::uint16_t> signals;
  std::optional<Session> session;
  std::uint32_t handle = 0xE1E10;
  std::optional<ring::MappedRingPair> rings;
  std::optional<ring::TestGuest> ring_guest;
};

}  // namespace vscsim::host::testing
