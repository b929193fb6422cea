// A test guest: the guest's half of a VMBus ring pair, in C++, so tests and
// benchmarks can drive the host side in-process.
//
// It follows Linux's drivers/hv/ring_buffer.c: it produces into the
// guest-to-host ring (strictly-more-free-space rule, signal only if the host
// has not masked interrupts and the ring was empty before the write) and
// consumes the host-to-guest ring (on close, signal the host only when the
// freed space crosses its pending_send_sz and the feature bit is set). It
// trusts nothing it need not, but it is test code: it also offers raw access
// to the shared headers so tests can play a broken or malicious guest.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/ring/ring.h"
#include "vscsim/wire/packet.h"
#include "vscsim/wire/parse.h"
#include "vscsim/wire/ring_header.h"

namespace vscsim::ring {

class TestGuest {
 public:
  struct Options {
    // feat_pending_send_sz in each ring's header, as Linux sets both at init.
    bool g2h_feature_pending_send_sz = true;
    bool h2g_feature_pending_send_sz = true;
  };

  // Initialises both ring headers as the guest does before OPENCHANNEL
  // (zeroed, indices 0, feature bits per options).
  TestGuest(RingRegion guest_to_host, RingRegion host_to_guest, Options options);
  TestGuest(RingRegion guest_to_host, RingRegion host_to_guest)
      : TestGuest(guest_to_host, host_to_guest, Options{}) {}

  // ---- guest-to-host: the guest produces ----
  // Each send publishes at once (as vmbus_sendpacket does) and returns
  // whether the guest would signal the host.
  Result<bool, Full> send(wire::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                          std::span<const std::byte> payload);
  // A GPA-direct packet, laid out as vmbus_sendpacket_mpb_desc does.
  Result<bool, Full> send_gpa_direct(std::uint64_t trans_id,
                                     std::span<const wire::ParsedGpaRange> ranges,
                                     std::span<const std::byte> payload);
  // Writes `packet` (descriptor included, size a multiple of 8) unchecked:
  // for malformed-packet tests.
  Result<bool, Full> send_raw(std::span<const std::byte> packet);
  // The guest is blocked: store pending_send_sz ([D]); returns true if the
  // space is already there (then it need not wait).
  bool set_pending_send_size(std::uint32_t bytes);
  [[nodiscard]] std::uint32_t g2h_free_bytes() const;

  // ---- host-to-guest: the guest consumes ----
  // hv_pkt_iter_first/next: copies the next packet (descriptor .. len8 * 8).
  std::optional<std::vector<std::byte>> receive();
  // hv_pkt_iter_close: publishes the read index; true if the host should be
  // signalled (it set pending_send_sz and the free space crossed it).
  bool close_receive();
  // hv_begin_read / hv_end_read on the host-to-guest ring. unmask returns
  // true when bytes are waiting (the guest must read again).
  void mask_interrupts();
  bool unmask_interrupts();

  // Raw headers, for tests that corrupt them. Single-threaded use only.
  wire::RingBufferHeader& g2h_header() { return header(g2h_); }
  wire::RingBufferHeader& h2g_header() { return header(h2g_); }
  [[nodiscard]] const RingRegion& g2h_region() const { return g2h_; }
  [[nodiscard]] const RingRegion& h2g_region() const { return h2g_; }

 private:
  static wire::RingBufferHeader& header(const RingRegion& r) {
    return *reinterpret_cast<wire::RingBufferHeader*>(r.header);
  }
  Result<bool, Full> produce(std::span<const std::span<const std::byte>> pieces);

  RingRegion g2h_;
  RingRegion h2g_;
  std::uint32_t g2h_write_ = 0;
  std::uint32_t h2g_read_ = 0;  // private read index (priv_read_index)
};

}  // namespace vscsim::ring
