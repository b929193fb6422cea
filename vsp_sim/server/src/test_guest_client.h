// A test guest for the channel protocol: plays the guest's half of
// CHANNELMSG_* against an in-process Server, over memfd-backed guest RAM.
//
// It sends what Linux's hv_vmbus sends, in the order it sends it (version
// negotiation newest first, GPADLs split as create_gpadl_header splits them,
// handles counted up from 0xE1E10), and collects what the host posts. It also
// sends raw bytes, so tests can play a broken guest. Tests only.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vscsim/gpadl/encode.h"
#include "vscsim/memory/guest_memory.h"
#include "vscsim/server/server.h"

namespace vscsim::server::testing {

// Linux 6.1's vmbus_versions[], newest first.
inline constexpr std::array kLinuxVersions{
    wire::kVersionWin10V5_3, wire::kVersionWin10V5_2, wire::kVersionWin10V5_1,
    wire::kVersionWin10V5,   wire::kVersionWin10V4_1, wire::kVersionWin10,
    wire::kVersionWin8_1,    wire::kVersionWin8};

using Message = std::vector<std::byte>;

// Collects everything the server posts.
class Inbox : public Notifier {
 public:
  void post_message(std::span<const std::byte> message) override {
    messages.emplace_back(message.begin(), message.end());
  }
  void channel_opened(std::uint32_t relid, const RingInfo& ring) override {
    opened.push_back(relid);
    last_ring_pages.assign(ring.pages.begin(), ring.pages.end());
    last_ring_split = ring.downstream_page_offset;
  }
  void channel_closing(std::uint32_t relid) override { closing.push_back(relid); }

  std::deque<Message> messages;
  std::vector<std::uint32_t> opened;
  std::vector<std::uint32_t> closing;
  std::vector<memory::Pfn> last_ring_pages;
  std::uint32_t last_ring_split = 0;
};

class TestGuestClient {
 public:
  using Reply = Result<Handled, ProtocolError>;

  // Guest RAM: `low_pages` at GPA 0, `high_pages` at 4 GiB.
  explicit TestGuestClient(std::uint64_t low_pages = 128, std::uint64_t high_pages = 128);
  ~TestGuestClient();
  TestGuestClient(const TestGuestClient&) = delete;
  TestGuestClient& operator=(const TestGuestClient&) = delete;

  [[nodiscard]] const memory::GuestMemory& memory() const { return *mem_; }
  Inbox& inbox() { return inbox_; }
  void attach(Server& server) { server_ = &server; }

  // `n` fresh guest pages, alternating low and high RAM (so a GPADL crosses
  // the hole as a real one may).
  std::vector<memory::Pfn> alloc_pages(std::size_t n);
  std::uint32_t next_gpadl_handle() { return next_handle_++; }

  // ---- raw sends ----
  Reply send(std::span<const std::byte> message);
  template <class T>
  Reply send_struct(const T& msg) {
    return send(std::as_bytes(std::span(&msg, 1)));
  }

  // ---- one message each, as Linux builds them ----
  Reply initiate_contact(std::uint32_t version);
  Reply request_offers();
  // Header and bodies; stops at the first rejected message and returns its
  // reply, else the last one's.
  Reply create_gpadl(std::uint32_t relid, std::uint32_t handle,
                     std::span<const memory::Pfn> pages, const gpadl::EncodeOptions& options = {});
  Reply open(std::uint32_t relid, std::uint32_t openid, std::uint32_t gpadl,
             std::uint32_t downstream_page_offset);
  Reply close(std::uint32_t relid);
  Reply teardown_gpadl(std::uint32_t relid, std::uint32_t handle);
  Reply release_relid(std::uint32_t relid);
  Reply unload();

  // ---- inbox ----
  // Pops the oldest host message if it has this type and is long enough.
  template <class T>
  std::optional<T> take(wire::ChannelMessageType type) {
    if (inbox_.messages.empty()) return std::nullopt;
    const Message m = inbox_.messages.front();
    if (m.size() < sizeof(T)) return std::nullopt;
    T out;
    std::memcpy(&out, m.data(), sizeof(T));
    if (out.header.msgtype != type) return std::nullopt;
    inbox_.messages.pop_front();
    return out;
  }
  [[nodiscard]] bool inbox_empty() const { return inbox_.messages.empty(); }
  [[nodiscard]] std::vector<wire::ChannelMessageType> inbox_types() const;

  // ---- whole flows ----
  // vmbus_negotiate_version's loop: newest first until the host agrees.
  // Returns the agreed version, nullopt if none.
  std::optional<std::uint32_t> connect();
  // REQUESTOFFERS; returns the offers up to ALLOFFERS_DELIVERED (empty + error
  // string in `error` if the sequence is wrong).
  std::vector<wire::OfferChannelMsg> request_offers_and_collect(std::string* error = nullptr);
  struct OpenChannel {
    std::uint32_t gpadl;
    std::vector<memory::Pfn> pages;
    std::uint32_t downstream_page_offset;
    std::uint32_t open_status;
  };
  // vmbus_open: ring GPADL of (1 + g2h_data) + (1 + h2g_data) pages, wait for
  // GPADL_CREATED(success), OPENCHANNEL, wait for OPENCHANNEL_RESULT. Errors
  // (a missing reply, a failed GPADL) come back as a string.
  Result<OpenChannel, std::string> open_channel(std::uint32_t relid, std::uint32_t g2h_data = 2,
                                                std::uint32_t h2g_data = 2);
  // vmbus_close: CLOSECHANNEL then GPADL_TEARDOWN, wait for GPADL_TORNDOWN.
  Result<void, std::string> close_channel(std::uint32_t relid, std::uint32_t gpadl);

 private:
  int fd_ = -1;
  std::optional<memory::GuestMemory> mem_;
  std::uint64_t low_pages_;
  std::uint64_t high_pages_;
  std::uint64_t next_low_ = 1;   // page 0 is never handed out
  std::uint64_t next_high_ = 0;
  bool alloc_high_next_ = false;
  std::uint32_t next_handle_ = 0xE1E10;  // Linux's first GPADL handle
  std::uint32_t next_openid_ = 1;
  Inbox inbox_;
  Server* server_ = nullptr;
};

}  // namespace vscsim::server::testing
