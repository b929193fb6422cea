// A guest that breaks the ring protocol: reported as Corrupt, sticky, logged
// rate-limited, never a crash, never clamped.
#include "ring_fixture.h"

#include <string>

#include "vscsim/base/log.h"

namespace vscsim::ring {
namespace {

using namespace testing;
using wire::PacketType;

std::string read_corrupt(RingFixture& f) {
  auto p = f.host_rx->read();
  BOOST_REQUIRE(!p.ok());
  BOOST_REQUIRE(is_corrupt(p.error()));
  BOOST_TEST(f.host_rx->broken());
  return corrupt_reason(p.error());
}

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

BOOST_AUTO_TEST_SUITE(ring_corrupt)

BOOST_AUTO_TEST_CASE(reader_rejects_len8_below_offset8) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send_raw(raw_packet(4, 3, 32)).ok());
  BOOST_TEST(contains(read_corrupt(f), "len8"));
}

BOOST_AUTO_TEST_CASE(reader_rejects_offset8_inside_descriptor) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send_raw(raw_packet(1, 4, 32)).ok());
  BOOST_TEST(contains(read_corrupt(f), "offset8"));
}

BOOST_AUTO_TEST_CASE(reader_rejects_zero_len8) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send_raw(raw_packet(2, 0, 32)).ok());
  read_corrupt(f);
}

BOOST_AUTO_TEST_CASE(reader_rejects_packet_longer_than_available_bytes) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send_raw(raw_packet(2, 100, 32)).ok());
  BOOST_TEST(contains(read_corrupt(f), "available"));
}

BOOST_AUTO_TEST_CASE(reader_rejects_packet_over_size_cap) {
  RingFixture f(2, 2, {}, ReaderLimits{64});
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 1, make_payload(48, 1)).ok());  // 64: ok
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 2, make_payload(56, 1)).ok());  // 72
  BOOST_TEST(f.host_rx->read().ok());
  BOOST_TEST(contains(read_corrupt(f), "cap"));
}

BOOST_AUTO_TEST_CASE(reader_rejects_misaligned_write_index) {
  RingFixture f;
  f.guest->g2h_header().write_index = 12;
  BOOST_TEST(contains(read_corrupt(f), "write index"));
}

BOOST_AUTO_TEST_CASE(reader_rejects_out_of_range_write_index) {
  RingFixture f;
  f.guest->g2h_header().write_index = f.pair->guest_to_host.data_size;
  read_corrupt(f);
  RingFixture g;
  g.guest->g2h_header().write_index = 0xfffffff8u;
  read_corrupt(g);
}

BOOST_AUTO_TEST_CASE(reader_rejects_bytes_too_few_for_a_packet) {
  RingFixture f;
  f.guest->g2h_header().write_index = 16;  // 16 bytes: no room for descriptor and trailer
  BOOST_TEST(contains(read_corrupt(f), "less than a descriptor"));
}

BOOST_AUTO_TEST_CASE(reader_starts_broken_on_bad_initial_read_index) {
  RingFixture f(2, 2, {}, {}, /*attach_host=*/false);
  f.guest->g2h_header().read_index = 3;
  f.attach();
  BOOST_TEST(f.host_rx->broken());
  BOOST_TEST(contains(read_corrupt(f), "read index"));
}

BOOST_AUTO_TEST_CASE(writer_starts_broken_on_bad_initial_write_index) {
  RingFixture f(2, 2, {}, {}, /*attach_host=*/false);
  f.guest->h2g_header().write_index = 0x10000;
  f.attach();
  BOOST_TEST(f.host_tx->broken());
  auto w = f.host_tx->write(PacketType::kCompletion, 0, 1, {});
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(is_corrupt(w.error()));
}

BOOST_AUTO_TEST_CASE(writer_rejects_misaligned_read_index) {
  RingFixture f;
  f.guest->h2g_header().read_index = 4;
  auto w = f.host_tx->write(PacketType::kCompletion, 0, 1, {});
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(contains(corrupt_reason(w.error()), "read index"));
  BOOST_TEST(f.host_tx->broken());
}

BOOST_AUTO_TEST_CASE(writer_rejects_out_of_range_read_index) {
  RingFixture f;
  f.guest->h2g_header().read_index = f.pair->host_to_guest.data_size + 8;
  auto w = f.host_tx->write(PacketType::kCompletion, 0, 1, {});
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(is_corrupt(w.error()));
}

BOOST_AUTO_TEST_CASE(writer_rejects_read_index_inside_unpublished_bytes) {
  RingFixture f;
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, make_payload(100, 1)).ok());
  f.guest->h2g_header().read_index = 32;  // the guest claims to have read what it cannot see
  auto w = f.host_tx->write(PacketType::kCompletion, 0, 2, {});
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(contains(corrupt_reason(w.error()), "not yet published"));
}

BOOST_AUTO_TEST_CASE(commit_write_rejects_bad_read_index) {
  RingFixture f;
  BOOST_REQUIRE(f.host_tx->write(PacketType::kCompletion, 0, 1, {}).ok());
  f.guest->h2g_header().read_index = 7;
  auto c = f.host_tx->commit_write();
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(f.host_tx->broken());
}

BOOST_AUTO_TEST_CASE(commit_read_rejects_write_index_moved_behind_consumed_bytes) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 1, make_payload(100, 1)).ok());
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 2, make_payload(100, 1)).ok());
  BOOST_REQUIRE(f.host_rx->read().ok());
  BOOST_REQUIRE(f.host_rx->read().ok());
  f.guest->set_pending_send_size(4096);
  f.guest->g2h_header().write_index = 128;  // back inside the first packet
  auto c = f.host_rx->commit_read();
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(contains(c.error().reason, "behind"));
}

BOOST_AUTO_TEST_CASE(broken_ring_stays_broken_after_guest_repairs_it) {
  RingFixture f;
  BOOST_REQUIRE(f.guest->send(PacketType::kDataInband, 0, 1, {}).ok());
  const std::uint32_t good = f.guest->g2h_header().write_index;
  f.guest->g2h_header().write_index = 4;
  const std::string reason = read_corrupt(f);
  f.guest->g2h_header().write_index = good;  // "repaired"
  auto again = f.host_rx->read();
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST(corrupt_reason(again.error()) == reason);
  BOOST_TEST(!f.host_rx->commit_read().ok());
  BOOST_TEST(!f.host_rx->end_drain().ok());

  f.guest->h2g_header().read_index = 4;
  BOOST_REQUIRE(!f.host_tx->write(PacketType::kCompletion, 0, 1, {}).ok());
  f.guest->h2g_header().read_index = 0;
  auto w = f.host_tx->write(PacketType::kCompletion, 0, 1, {});
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(is_corrupt(w.error()));
  BOOST_TEST(!f.host_tx->commit_write().ok());
  BOOST_TEST(!f.host_tx->request_space(8).ok());
}

BOOST_AUTO_TEST_CASE(corruption_is_logged_once_per_ring_and_rate_limited) {
  std::vector<std::string> lines;
  log::set_sink([&](log::Level, std::string_view t) { lines.emplace_back(t); });
  {
    RingFixture f;
    f.guest->g2h_header().write_index = 4;
    for (int i = 0; i < 100; ++i) BOOST_TEST(!f.host_rx->read().ok());
  }
  BOOST_TEST(lines.size() <= 1u);  // sticky: the first failure is the only report
  for (int i = 0; i < 50; ++i) {
    RingFixture f;
    f.guest->g2h_header().write_index = 4;
    BOOST_TEST(!f.host_rx->read().ok());
  }
  log::set_sink(nullptr);
  // 51 broken rings within well under a second: the call site's bucket holds.
  BOOST_TEST(lines.size() <= log::kDefaultBurst + 1);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::ring
