// The ring pair with the guest and the host on two threads, signalling each
// other only when the ring rules say so. Proves the [A]-[D] barrier pairs in
// ring.h under real concurrency (and under TSan, in the test command's
// build-tsan): every request arrives once and in order with its bytes intact,
// every completion comes back, and no side ever waits for a signal that the
// other side decided not to send (a lost wake-up shows up as a stall).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "ring_fixture.h"

namespace vscsim::ring::testing {
namespace {

using namespace std::chrono_literals;

// An interrupt line: ring() is the other side's signal, wait() sleeps until
// one arrived since the last wait (or gives up, which the test reports).
class Doorbell {
 public:
  void ring() {
    {
      std::lock_guard lock(mu_);
      ++count_;
    }
    cv_.notify_one();
  }
  // False if nothing rang within `limit`: a lost wake-up.
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    const bool rang = cv_.wait_for(lock, limit, [&] { return count_ != seen_; });
    seen_ = count_;
    return rang;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t count_ = 0;
  std::uint64_t seen_ = 0;
};

constexpr std::uint64_t kRequests = 20000;
constexpr std::size_t kRequestBytes = 200;
constexpr std::size_t kCompletionBytes = 488;  // big enough to fill the 8 KiB h2g ring
constexpr auto kStall = 10s;

std::uint32_t seed_of(std::uint64_t id) { return static_cast<std::uint32_t>(id * 2654435761u); }

}  // namespace

BOOST_AUTO_TEST_SUITE(ring_threads)

BOOST_AUTO_TEST_CASE(guest_and_host_threads_exchange_every_packet_once_in_order_without_lost_wakeups) {
  RingFixture fx(2, 2, {}, {}, /*attach_host=*/false);
  RingReader rx(fx.pair->guest_to_host);
  RingWriter tx(fx.pair->host_to_guest);
  TestGuest& guest = *fx.guest;
  Doorbell to_host, to_guest;
  std::string host_error, guest_error;
  std::uint64_t host_signals = 0, guest_signals = 0;

  std::thread host([&] {
    std::uint64_t next_request = 1;
    std::deque<std::uint64_t> owed;  // completions not yet written
    std::uint64_t completed = 0;
    while (completed < kRequests) {
      bool progressed = false;
      rx.begin_drain();
      for (int i = 0; i < 64; ++i) {
        auto r = rx.read();
        if (!r.ok()) {
          if (is_corrupt(r.error())) host_error = "host read corrupt: " + corrupt_reason(r.error());
          break;
        }
        const auto& p = r.value();
        if (p.descriptor.trans_id != next_request) {
          host_error = "request " + std::to_string(p.descriptor.trans_id) + " arrived, expected " +
                       std::to_string(next_request);
        } else if (as_vector(p.payload().first(kRequestBytes)) !=
                   make_payload(kRequestBytes, seed_of(next_request))) {
          host_error = "request " + std::to_string(next_request) + " bytes differ";
        }
        owed.push_back(next_request++);
        progressed = true;
      }
      if (!host_error.empty()) return;
      auto c = rx.commit_read();
      if (c.ok() && c.value()) ++host_signals, to_guest.ring();
      bool blocked = false;
      while (!owed.empty()) {
        auto w = tx.write(wire::PacketType::kCompletion, 0, owed.front(),
                          make_payload(kCompletionBytes, seed_of(owed.front())));
        if (w.ok()) {
          owed.pop_front();
          ++completed;
          progressed = true;
          continue;
        }
        if (is_corrupt(w.error())) {
          host_error = "host write corrupt: " + corrupt_reason(w.error());
          return;
        }
        // Full: ask the guest to signal once there is room, unless there already is.
        const auto room = tx.request_space(std::get<Full>(w.error()).bytes_needed);
        if (room.ok() && room.value()) {
          tx.clear_pending_send_size();
          continue;
        }
        blocked = true;
        break;
      }
      auto cw = tx.commit_write();
      if (cw.ok() && cw.value()) ++host_signals, to_guest.ring();
      auto more = rx.end_drain();
      if (!more.ok()) {
        host_error = "end_drain corrupt";
        return;
      }
      if (more.value() || progressed) continue;
      if (!to_host.wait(kStall)) {
        host_error = "host stalled: no signal for " + std::to_string(kStall.count()) + " s with " +
                     std::to_string(owed.size()) + " completions owed" + (blocked ? " (ring full)" : "");
        return;
      }
      if (blocked) tx.clear_pending_send_size();
    }
  });

  std::uint64_t next_send = 1, next_completion = 1;
  while (next_completion <= kRequests && guest_error.empty() && host_error.empty()) {
    bool progressed = false;
    bool blocked = false;
    while (next_send <= kRequests && next_send - next_completion < 256) {
      auto s = guest.send(wire::PacketType::kDataInband, wire::kFlagCompletionRequested, next_send,
                          make_payload(kRequestBytes, seed_of(next_send)));
      if (s.ok()) {
        if (s.value()) ++guest_signals, to_host.ring();
        ++next_send;
        progressed = true;
        continue;
      }
      if (guest.set_pending_send_size(s.error().bytes_needed)) {
        guest.set_pending_send_size(0);
        continue;
      }
      blocked = true;
      break;
    }
    guest.mask_interrupts();
    while (auto packet = guest.receive()) {
      wire::VmpacketDescriptor d;
      std::memcpy(&d, packet->data(), sizeof d);
      if (d.trans_id != next_completion) {
        guest_error = "completion " + std::to_string(d.trans_id) + " arrived, expected " +
                      std::to_string(next_completion);
        break;
      }
      const std::span<const std::byte> body(packet->data() + std::size_t{d.offset8} * 8, kCompletionBytes);
      if (as_vector(body) != make_payload(kCompletionBytes, seed_of(next_completion))) {
        guest_error = "completion " + std::to_string(next_completion) + " bytes differ";
        break;
      }
      ++next_completion;
      progressed = true;
    }
    if (guest.close_receive()) ++guest_signals, to_host.ring();
    if (guest.unmask_interrupts() || progressed) continue;
    if (!to_guest.wait(kStall)) {
      guest_error = "guest stalled: no signal for " + std::to_string(kStall.count()) + " s, " +
                    std::to_string(next_send - next_completion) + " requests outstanding" +
                    (blocked ? " (ring full)" : "");
    }
    if (blocked) guest.set_pending_send_size(0);
  }
  if (!guest_error.empty()) to_host.ring();  // let a waiting host notice and stall out
  host.join();
  BOOST_TEST(host_error.empty(), host_error);
  BOOST_TEST(guest_error.empty(), guest_error);
  BOOST_TEST(next_completion == kRequests + 1);
  // Batching works: far fewer interrupts than packets, in both directions.
  BOOST_TEST_MESSAGE("signals: host->guest " << host_signals << ", guest->host " << guest_signals
                                             << " for " << kRequests << " requests");
  BOOST_TEST(host_signals < kRequests);
  BOOST_TEST(guest_signals < kRequests);
}

// The flood's shape: the host writes batches of copies as fast as room
// appears (polling, no pending_send_sz) while the guest reads on its own
// thread; [A], [B] and [C] must hold for write_copies as for write.
BOOST_AUTO_TEST_CASE(write_copies_from_a_polling_host_reach_a_concurrent_guest_in_order) {
  RingFixture fx(2, 2, {}, {}, /*attach_host=*/false);
  RingWriter tx(fx.pair->host_to_guest);
  TestGuest& guest = *fx.guest;
  Doorbell to_guest;
  constexpr std::uint64_t kCopies = 100000;
  constexpr std::uint64_t kFirstId = std::uint64_t{1} << 63;
  const auto payload = make_payload(13, 5);
  std::string host_error, guest_error;
  std::atomic<bool> guest_done{false};

  std::thread host([&] {
    std::uint64_t next = kFirstId;
    const auto deadline = std::chrono::steady_clock::now() + kStall;
    while (next < kFirstId + kCopies && !guest_done.load()) {
      auto n = tx.write_copies(wire::PacketType::kCompletion, 0, next,
                               static_cast<std::uint32_t>(std::min<std::uint64_t>(64, kFirstId + kCopies - next)),
                               payload);
      if (!n.ok()) {
        if (is_corrupt(n.error())) {
          host_error = "host write corrupt: " + corrupt_reason(n.error());
          break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          host_error = "host: ring stayed full";
          break;
        }
        std::this_thread::yield();
        continue;
      }
      next += *n;
      auto c = tx.commit_write();
      if (!c.ok()) {
        host_error = "commit corrupt";
        break;
      }
      if (*c) to_guest.ring();
    }
    to_guest.ring();  // a guest still waiting notices the end
  });

  std::uint64_t expect = kFirstId;
  // host_error is read only after the join; a failing host still rings once at its end.
  while (expect < kFirstId + kCopies && guest_error.empty()) {
    guest.mask_interrupts();
    bool progressed = false;
    while (auto p = guest.receive()) {
      wire::VmpacketDescriptor d;
      std::memcpy(&d, p->data(), sizeof d);
      const std::span<const std::byte> body(p->data() + 16, payload.size());
      if (d.trans_id != expect || as_vector(body) != payload) {
        guest_error = "copy " + std::to_string(d.trans_id - kFirstId) + " arrived, expected " +
                      std::to_string(expect - kFirstId) + " (or its bytes differ)";
        break;
      }
      ++expect;
      progressed = true;
    }
    guest.close_receive();
    if (guest.unmask_interrupts() || progressed) continue;
    if (!to_guest.wait(kStall)) guest_error = "guest stalled: a signal was lost";
  }
  guest_done.store(true);
  host.join();
  BOOST_TEST(host_error.empty(), host_error);
  BOOST_TEST(guest_error.empty(), guest_error);
  BOOST_TEST(expect == kFirstId + kCopies);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace vscsim::ring::testing
