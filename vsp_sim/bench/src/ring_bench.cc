// ring-bench: in-process VMBus ring throughput and latency, against memcpy.
//
// Throughput: a producer thread plays the guest (TestGuest::send into the
// guest-to-host ring, spinning while the ring is full); the main thread is
// the host (RingReader::read until Empty, then one commit_read per batch, and
// one each time an eighth of the ring has been read).
// That is the real shape of the simulator's receive path, and with two
// threads it includes the cross-core cache traffic a real guest causes.
//
// Latency: one thread, ping-pong: the guest sends a request, the host reads
// and commits it, writes a 16-byte completion and commits, the guest receives
// and closes. Single-threaded on purpose: it measures the CPU cost of one
// request's ring work without scheduler noise (the transport's doorbell adds
// its own latency on top, measured elsewhere).
//
// Two baselines, measured in the same run:
// - memcpy: the same payload sizes copied between two buffers as large as the
//   ring, on one core (the yardstick).
// - handoff: the least any shared-memory transport between two cores does.
//   One thread copies each payload into a shared area as large as the ring,
//   another copies it out, with one counter each way and nothing else: no
//   headers, no validation, the consumer publishing once per batch as the
//   ring's host does. Its rate is bounded by moving cache lines between
//   cores, which no ring code can avoid; ring/handoff is the ring's own cost.
//
// Usage: ring-bench [--seconds S] [--size BYTES]...
//   S per measurement (default 0.5); --size limits the run to those payload
//   sizes (default 64 B to 64 KiB).
// Not a test: nothing here asserts on timing.
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "vscsim/memory/guest_memory.h"
#include "vscsim/ring/ring.h"
#include "vscsim/ring/test_guest.h"

namespace {

using Clock = std::chrono::steady_clock;
using vscsim::memory::kPageSize;
using vscsim::memory::Pfn;
using vscsim::wire::PacketType;

constexpr std::uint32_t kRingDataPages = 64;  // 256 KiB per ring: room for several 64 KiB packets

struct Rig {
  int fd = -1;
  std::optional<vscsim::memory::GuestMemory> mem;
  std::optional<vscsim::ring::MappedRingPair> pair;

  Rig() {
    const std::uint64_t pages = 2 * (kRingDataPages + 1) + 2;
    fd = memfd_create("bench-ram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(pages * kPageSize)) != 0) std::abort();
    auto layout = vscsim::memory::MemoryLayout::split(pages * kPageSize, pages * kPageSize);
    auto m = vscsim::memory::GuestMemory::map_fd(fd, layout.value());
    if (!m.ok()) std::abort();
    mem.emplace(std::move(m).value());
    // Pages in reverse order: the GPADL is not contiguous in GPA space.
    std::vector<Pfn> gpadl;
    for (std::uint64_t i = 0; i < 2 * (kRingDataPages + 1); ++i) gpadl.emplace_back(pages - 1 - i);
    auto p = vscsim::ring::map_ring_pair(*mem, gpadl, kRingDataPages + 1);
    if (!p.ok()) {
      fmt::print(stderr, "map_ring_pair: {}\n", p.error());
      std::abort();
    }
    pair.emplace(std::move(p).value());
  }
  ~Rig() {
    pair.reset();
    mem.reset();
    close(fd);
  }
};

// The two threads of a throughput run on two different CPUs, always the same
// two: left to the scheduler they sometimes shared one core and the rates
// jumped between runs by a factor of three. The main thread (host) is pinned
// for the whole run, each producer (guest) when it starts.
constexpr int kHostCpu = 1, kGuestCpu = 0;
bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// The host's consumer publishes its read index once this fraction of the
// ring has been read, as well as at the end of each batch (vsp-sim's
// Session does the same).
constexpr std::uint32_t kEarlyCommitFraction = 8;

struct Throughput {
  double packets_per_s;
  double bytes_per_s;
};

Throughput ring_throughput(std::size_t payload_size, double seconds) {
  Rig rig;
  vscsim::ring::TestGuest guest(rig.pair->guest_to_host, rig.pair->host_to_guest);
  vscsim::ring::RingReader host(rig.pair->guest_to_host);
  const std::vector<std::byte> payload(payload_size, std::byte{0x5a});
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    pin_to_cpu(kGuestCpu);
    std::uint64_t id = 1;
    while (!stop.load(std::memory_order_relaxed)) {
      if (guest.send(PacketType::kDataInband, 0, id, payload).ok()) {
        ++id;
      } else {
        std::this_thread::yield();  // ring full: the host is behind
      }
    }
  });
  std::uint64_t packets = 0, bytes = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    int got = 0;
    for (; got < 64; ++got) {  // bounded batch, then one commit
      auto p = host.read();
      if (!p.ok()) break;
      ++packets;
      bytes += p->payload().size();
      // As vsp-sim's session does: space back to the guest once an eighth
      // of the ring has been read.
      if (host.uncommitted_bytes() >= host.data_size() / kEarlyCommitFraction && !host.commit_read().ok()) {
        std::abort();
      }
    }
    if (!host.commit_read().ok()) std::abort();
    // Ring empty: let the producer run if it shares this core.
    if (got == 0) std::this_thread::yield();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  producer.join();
  if (host.broken()) std::abort();
  return {packets / elapsed, bytes / elapsed};
}

double memcpy_bytes_per_s(std::size_t chunk, double seconds) {
  const std::size_t area = kRingDataPages * kPageSize;
  std::vector<std::byte> src(area, std::byte{1}), dst(area);
  std::uint64_t bytes = 0;
  std::size_t pos = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (int i = 0; i < 256; ++i) {
      if (pos + chunk > area) pos = 0;
      std::memcpy(dst.data() + pos, src.data() + (area - chunk - pos), chunk);
      pos += (chunk + 7) / 8 * 8;
      bytes += chunk;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  // Keep the copies observable.
  volatile std::byte sink = dst[area / 2];
  (void)sink;
  return bytes / elapsed;
}

// See the header comment: the two-core floor for moving `chunk`-byte payloads
// through a shared area of the ring's size.
double handoff_bytes_per_s(std::size_t chunk, double seconds) {
  const std::size_t area = kRingDataPages * kPageSize;
  const std::uint64_t slots = std::max<std::size_t>(1, area / chunk);
  std::vector<std::byte> shared(area), src(chunk, std::byte{0x5a}), dst(chunk);
  struct alignas(64) Counter {
    std::atomic<std::uint64_t> value{0};
  };
  Counter produced, consumed;
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    pin_to_cpu(kGuestCpu);
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (n - consumed.value.load(std::memory_order_acquire) == slots) {
        std::this_thread::yield();  // full
        continue;
      }
      std::memcpy(shared.data() + (n % slots) * chunk, src.data(), chunk);
      produced.value.store(++n, std::memory_order_release);
    }
  });
  std::uint64_t bytes = 0, n = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    const std::uint64_t avail = produced.value.load(std::memory_order_acquire);
    if (avail == n) {
      std::this_thread::yield();  // empty
      continue;
    }
    std::uint64_t unpublished = 0;
    for (int got = 0; n < avail && got < 64; ++got, ++n) {
      std::memcpy(dst.data(), shared.data() + (n % slots) * chunk, chunk);
      bytes += chunk;
      unpublished += chunk;
      if (unpublished >= area / kEarlyCommitFraction) {  // the ring's early commit, too
        consumed.value.store(n + 1, std::memory_order_release);
        unpublished = 0;
      }
    }
    consumed.value.store(n, std::memory_order_release);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  producer.join();
  volatile std::byte sink = dst[chunk / 2];
  (void)sink;
  return bytes / elapsed;
}

constexpr int kRounds = 5;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Latency {
  double median_ns;
  double p99_ns;
};

Latency ping_pong_latency(std::size_t payload_size, double seconds) {
  Rig rig;
  vscsim::ring::TestGuest guest(rig.pair->guest_to_host, rig.pair->host_to_guest);
  vscsim::ring::RingReader host_rx(rig.pair->guest_to_host);
  vscsim::ring::RingWriter host_tx(rig.pair->host_to_guest);
  const std::vector<std::byte> request(payload_size, std::byte{0x11});
  const std::vector<std::byte> response(16, std::byte{0x22});
  std::vector<double> samples;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::uint64_t id = 1;
  while (Clock::now() < deadline && samples.size() < 2'000'000) {
    const auto t0 = Clock::now();
    if (!guest.send(PacketType::kDataInband, vscsim::wire::kFlagCompletionRequested, id, request).ok()) std::abort();
    auto p = host_rx.read();
    if (!p.ok()) std::abort();
    const std::uint64_t trans_id = p->descriptor.trans_id;
    if (!host_rx.commit_read().ok()) std::abort();
    if (!host_tx.write(PacketType::kCompletion, 0, trans_id, response).ok()) std::abort();
    if (!host_tx.commit_write().ok()) std::abort();
    auto c = guest.receive();
    if (!c) std::abort();
    guest.close_receive();
    samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    ++id;
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples[samples.size() * 99 / 100]};
}

// Host write cost of a completion flood (vsp-sim's flood_ms): 16-byte
// completions (40 bytes in the ring) into a 128 KiB ring, the az_blob
// ring's size, one packet per write() or in blocks of 256 per write_copies(),
// with a commit per 256 packets as the flood does. Only the host's writes are
// timed; the guest empties the ring between fills, untimed.
double flood_write_ns_per_packet(bool copies, double seconds) {
  Rig rig;
  constexpr std::uint32_t kFloodRing = 128 * 1024;
  vscsim::ring::RingRegion h2g = rig.pair->host_to_guest;
  h2g.data_size = kFloodRing;  // the first 32 pages of the bench's 64
  vscsim::ring::TestGuest guest(rig.pair->guest_to_host, h2g);
  vscsim::ring::RingWriter host(h2g);
  const std::vector<std::byte> completion(16, std::byte{0x33});
  std::uint64_t id = std::uint64_t{1} << 63, packets = 0;
  Clock::duration timed{};
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    const auto t0 = Clock::now();
    for (bool full = false; !full;) {
      std::uint32_t n = 0;
      if (copies) {
        auto w = host.write_copies(PacketType::kCompletion, 0, id, 256, completion);
        n = w.ok() ? *w : 0;
        full = n < 256;
      } else {
        for (; n < 256; ++n) {
          if (!host.write(PacketType::kCompletion, 0, id + n, completion).ok()) break;
        }
        full = n < 256;
      }
      id += n;
      packets += n;
      if (!host.commit_write().ok()) std::abort();
    }
    timed += Clock::now() - t0;
    while (guest.receive()) {
    }
    guest.close_receive();
  }
  return std::chrono::duration<double, std::nano>(timed).count() / static_cast<double>(packets);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.5;
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--size" && i + 1 < argc) {
      const long size = std::atol(argv[++i]);
      // A packet of the size plus its descriptor must fit the ring with room to spare.
      if (size < 1 || size > 65536) {
        fmt::print(stderr, "ring-bench: --size must be 1..65536 bytes\n");
        return 2;
      }
      sizes.push_back(static_cast<std::size_t>(size));
    } else {
      fmt::print(stderr, "usage: ring-bench [--seconds S] [--size BYTES]...\n");
      return 2;
    }
  }
  if (seconds <= 0) seconds = 0.5;
  if (sizes.empty()) sizes = {64, 256, 1024, 4096, 16384, 65536};
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  const bool pinned = std::thread::hardware_concurrency() >= 2 && pin_to_cpu(kHostCpu);
  fmt::print("ring-bench: {} s per size, ring data area {} KiB, {} CPUs online, load average {:.2f}, {}\n",
             seconds, kRingDataPages * kPageSize / 1024, std::thread::hardware_concurrency(),
             load[0], pinned ? fmt::format("host thread on CPU {}, guest thread on CPU {}", kHostCpu, kGuestCpu)
                             : std::string("threads not pinned (fewer than 2 CPUs)"));
  fmt::print("throughput: guest producer thread -> host consumer (batch commit)\n");
  fmt::print("{:>8} {:>12} {:>10} {:>12} {:>10} {:>12} {:>10} {:>10} {:>10}\n", "payload",
             "packets/s", "MiB/s", "memcpy MiB/s", "ring/mcpy", "handoff MiB/s", "ring/hoff",
             "rtt p50 ns", "rtt p99 ns");
  // How fast two CPUs trade cache lines changes for seconds at a time on a
  // virtual machine (its vCPUs move between host cores, or share one): each
  // round measures ring, memcpy and handoff back to back for every size, so
  // a ratio is taken between figures of the same moment, and the rounds are
  // spread over the whole run; the table gives medians over the rounds.
  struct Figures {
    std::vector<double> pps, bps, mcpy, hoff, vs_mcpy, vs_hoff;
  };
  std::vector<Figures> fig(sizes.size());
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const Throughput t = ring_throughput(sizes[i], seconds / kRounds);
      const double m = memcpy_bytes_per_s(sizes[i], seconds / kRounds);
      const double h = handoff_bytes_per_s(sizes[i], seconds / kRounds);
      fig[i].pps.push_back(t.packets_per_s);
      fig[i].bps.push_back(t.bytes_per_s);
      fig[i].mcpy.push_back(m);
      fig[i].hoff.push_back(h);
      fig[i].vs_mcpy.push_back(t.bytes_per_s / m);
      fig[i].vs_hoff.push_back(t.bytes_per_s / h);
    }
  }
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::size_t size = sizes[i];
    const auto& [pps, bps, mcpy, hoff, vs_mcpy, vs_hoff] = fig[i];
    const Latency l = ping_pong_latency(size, seconds);
    fmt::print("{:>8} {:>12.0f} {:>10.1f} {:>12.1f} {:>10.3f} {:>12.1f} {:>10.3f} {:>10.0f} {:>10.0f}\n",
               size, median(pps), median(bps) / (1 << 20), median(mcpy) / (1 << 20), median(vs_mcpy),
               median(hoff) / (1 << 20), median(vs_hoff), l.median_ns, l.p99_ns);
  }
  fmt::print("medians of {} rounds; memcpy: one core, the issue's yardstick; handoff: the two-core floor "
             "(see the source's header)\n", kRounds);
  fmt::print("rtt: one thread: guest send, host read+commit, host completion write+commit, guest "
             "receive+close\n");
  const double one = flood_write_ns_per_packet(false, seconds);
  const double batch = flood_write_ns_per_packet(true, seconds);
  fmt::print("flood (16-byte completions, 128 KiB ring, commit per 256): write {:.1f} ns/packet "
             "({:.1f} M/s), write_copies {:.1f} ns/packet ({:.1f} M/s)\n",
             one, 1e3 / one, batch, 1e3 / batch);
  return 0;
}
