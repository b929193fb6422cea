#define BOOST_TEST_MODULE transport_shared_region
#include <boost/test/unit_test.hpp>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "vscsim/transport/shared_region.h"

namespace vt = vscsim::transport;
namespace layout = vscsim::transport::layout;

namespace {

std::vector<std::byte> message(std::uint32_t tag, std::size_t size = 16) {
  std::vector<std::byte> bytes(size, std::byte{0x5a});
  std::memcpy(bytes.data(), &tag, sizeof(tag));
  return bytes;
}

std::uint32_t tag_of(std::span<const std::byte> bytes) {
  std::uint32_t tag = 0;
  std::memcpy(&tag, bytes.data(), sizeof(tag));
  return tag;
}

struct Fixture {
  vt::SharedRegion region = vt::SharedRegion::create(layout::kDefaultRegionSize, 0);
  Fixture() { region.reset_for_guest(1); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(create_writes_a_header_that_describes_the_layout) {
  auto region = vt::SharedRegion::create(128 * 1024, 7);
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::fstat(region.fd(), &st), 0);
  BOOST_TEST(st.st_size == 128 * 1024);

  const layout::RegionHeader& h = *region.header();
  BOOST_TEST(h.magic == layout::kMagic);
  BOOST_TEST(std::memcmp(&h.magic, "VSCSIMVB", 8) == 0);
  BOOST_TEST(h.layout_version == 1U);
  BOOST_TEST(h.header_size == 0x1000U);
  BOOST_TEST(h.region_size == 128U * 1024U);
  BOOST_TEST(h.host_peer_id == 7U);
  BOOST_TEST(h.guest_peer_id == layout::kNoGuest);
  BOOST_TEST(h.vectors == 2U);
  BOOST_TEST(h.slot_size == 256U);
  BOOST_TEST(h.slot_count == 64U);
  BOOST_TEST(h.event_bits == 2048U);
  BOOST_TEST(h.h2g_control_offset == 0x1000U);
  BOOST_TEST(h.g2h_control_offset == 0x1100U);
  BOOST_TEST(h.h2g_events_offset == 0x1200U);
  BOOST_TEST(h.g2h_events_offset == 0x1300U);
  BOOST_TEST(h.h2g_slots_offset == 0x2000U);
  BOOST_TEST(h.g2h_slots_offset == 0x6000U);
  BOOST_TEST(h.host_state == static_cast<std::uint32_t>(layout::HostState::kInitialising));
}

BOOST_AUTO_TEST_CASE(reset_for_guest_bumps_generation_and_clears_mailboxes) {
  auto region = vt::SharedRegion::create(layout::kMinRegionSize, 0);
  region.reset_for_guest(3);
  const std::uint32_t first = region.header()->generation;
  BOOST_TEST(region.header()->guest_peer_id == 3U);
  BOOST_TEST(region.header()->host_state == static_cast<std::uint32_t>(layout::HostState::kRunning));
  {
    vt::MailboxProducer producer(region.host_to_guest());
    BOOST_REQUIRE(producer.post(message(1)).ok());
    BOOST_REQUIRE(region.host_to_guest_events().set(5));
  }
  region.reset_for_guest(4);
  BOOST_TEST(region.header()->generation == first + 1);
  BOOST_TEST(region.header()->guest_peer_id == 4U);
  BOOST_TEST(region.host_to_guest().control->head == 0U);
  BOOST_TEST(!region.host_to_guest_events().test(5));
}

BOOST_AUTO_TEST_CASE(beat_advances_the_heartbeat_and_state_is_visible) {
  auto region = vt::SharedRegion::create(layout::kMinRegionSize, 0);
  const std::uint64_t before = region.header()->heartbeat;
  region.beat();
  region.beat();
  BOOST_TEST(region.header()->heartbeat == before + 2);
  region.set_state(layout::HostState::kStopped);
  BOOST_TEST(region.header()->host_state == 2U);
}

BOOST_AUTO_TEST_CASE(create_rejects_sizes_that_are_not_a_power_of_two_or_too_small) {
  BOOST_CHECK_THROW(vt::SharedRegion::create(96 * 1024, 0), std::invalid_argument);
  BOOST_CHECK_THROW(vt::SharedRegion::create(32 * 1024, 0), std::invalid_argument);
  BOOST_CHECK_THROW(vt::SharedRegion::create(32ULL * 1024 * 1024, 0), std::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(posted_message_is_drained_intact_and_in_order, Fixture) {
  vt::MailboxProducer producer(region.host_to_guest());
  vt::MailboxConsumer consumer(region.host_to_guest());
  BOOST_REQUIRE(producer.post(message(10, 8)).ok());
  BOOST_REQUIRE(producer.post(message(11, 240)).ok());
  std::vector<std::vector<std::byte>> seen;
  auto result = consumer.drain(16, [&](std::span<const std::byte> m) { seen.emplace_back(m.begin(), m.end()); });
  BOOST_TEST(result.status == vt::MailboxStatus::kOk);
  BOOST_TEST(result.drained == 2U);
  BOOST_TEST(!result.more_pending);
  BOOST_REQUIRE_EQUAL(seen.size(), 2U);
  BOOST_TEST(seen[0] == message(10, 8));
  BOOST_TEST(seen[1] == message(11, 240));
  BOOST_TEST(region.host_to_guest().control->tail == 2U);
}

BOOST_FIXTURE_TEST_CASE(slot_padding_is_zeroed_before_publication, Fixture) {
  vt::MailboxProducer producer(region.guest_to_host());
  // Dirty the slot first, as a previous lap would.
  std::memset(region.guest_to_host().slots, 0xff, layout::kSlotSize);
  BOOST_REQUIRE(producer.post(message(1, 8)).ok());
  const std::byte* slot = region.guest_to_host().slots;
  for (std::size_t i = layout::kSlotHeaderSize + 8; i < layout::kSlotSize; ++i) {
    BOOST_REQUIRE(slot[i] == std::byte{0});
  }
}

BOOST_FIXTURE_TEST_CASE(drain_stops_at_its_bound_and_reports_more_pending, Fixture) {
  vt::MailboxProducer producer(region.guest_to_host());
  vt::MailboxConsumer consumer(region.guest_to_host());
  for (std::uint32_t i = 0; i < 10; ++i) {
    BOOST_REQUIRE(producer.post(message(i)).ok());
  }
  std::vector<std::uint32_t> tags;
  auto first = consumer.drain(4, [&](auto m) { tags.push_back(tag_of(m)); });
  BOOST_TEST(first.drained == 4U);
  BOOST_TEST(first.more_pending);
  auto second = consumer.drain(100, [&](auto m) { tags.push_back(tag_of(m)); });
  BOOST_TEST(second.drained == 6U);
  BOOST_TEST(!second.more_pending);
  BOOST_TEST(tags == (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

BOOST_FIXTURE_TEST_CASE(full_mailbox_reports_full_and_asks_the_consumer_for_a_signal, Fixture) {
  vt::MailboxProducer producer(region.host_to_guest());
  vt::MailboxConsumer consumer(region.host_to_guest());
  for (std::uint32_t i = 0; i < layout::kSlotCount; ++i) {
    BOOST_REQUIRE(producer.post(message(i)).ok());
  }
  BOOST_TEST(producer.post(message(99)).status == vt::MailboxStatus::kFull);
  BOOST_TEST(region.host_to_guest().control->producer_waiting == 1U);
  BOOST_TEST(!producer.broken());

  auto drained = consumer.drain(1, [](auto) {});
  BOOST_TEST(drained.drained == 1U);
  BOOST_TEST(drained.wake_producer);
  BOOST_TEST(region.host_to_guest().control->producer_waiting == 0U);
  BOOST_TEST(producer.post(message(99)).ok());
  // The flag is consumed once: the next drain does not ask for another wake-up.
  BOOST_TEST(!consumer.drain(1, [](auto) {}).wake_producer);
}

BOOST_FIXTURE_TEST_CASE(post_rejects_messages_outside_payload_limits_without_breaking, Fixture) {
  vt::MailboxProducer producer(region.host_to_guest());
  BOOST_TEST(producer.post(message(1, 7)).status == vt::MailboxStatus::kInvalid);
  BOOST_TEST(producer.post(message(1, 241)).status == vt::MailboxStatus::kInvalid);
  BOOST_TEST(!producer.broken());
  BOOST_TEST(producer.post(message(1, 240)).ok());
}

BOOST_FIXTURE_TEST_CASE(head_too_far_ahead_marks_the_consumer_broken_for_good, Fixture) {
  vt::MailboxConsumer consumer(region.guest_to_host());
  region.guest_to_host().control->head = layout::kSlotCount + 1;  // a corrupt guest
  bool called = false;
  auto result = consumer.drain(8, [&](auto) { called = true; });
  BOOST_TEST(result.status == vt::MailboxStatus::kBroken);
  BOOST_TEST(!called);
  BOOST_TEST(consumer.broken());
  BOOST_TEST(consumer.broken_reason().find("head 65") != std::string::npos);
  // Sticky: repairing the index does not un-break the mailbox.
  region.guest_to_host().control->head = 0;
  BOOST_TEST(consumer.drain(8, [](auto) {}).status == vt::MailboxStatus::kBroken);
}

BOOST_FIXTURE_TEST_CASE(head_behind_tail_marks_the_consumer_broken, Fixture) {
  vt::MailboxProducer producer(region.guest_to_host());
  vt::MailboxConsumer consumer(region.guest_to_host());
  BOOST_REQUIRE(producer.post(message(1)).ok());
  BOOST_REQUIRE_EQUAL(consumer.drain(8, [](auto) {}).drained, 1U);
  region.guest_to_host().control->head = 0;  // moved backwards
  BOOST_TEST(consumer.drain(8, [](auto) {}).status == vt::MailboxStatus::kBroken);
}

BOOST_FIXTURE_TEST_CASE(slot_with_bad_size_or_index_marks_the_consumer_broken, Fixture) {
  for (std::uint32_t bad_size : {0U, 7U, 241U, 0xffffffffU}) {
    region.reset_for_guest(1);
    vt::MailboxProducer producer(region.guest_to_host());
    vt::MailboxConsumer consumer(region.guest_to_host());
    BOOST_REQUIRE(producer.post(message(1)).ok());
    reinterpret_cast<layout::SlotHeader*>(region.guest_to_host().slots)->size = bad_size;
    bool called = false;
    auto result = consumer.drain(8, [&](auto) { called = true; });
    BOOST_TEST(result.status == vt::MailboxStatus::kBroken, "size " << bad_size);
    BOOST_TEST(!called);
  }
  region.reset_for_guest(1);
  vt::MailboxProducer producer(region.guest_to_host());
  vt::MailboxConsumer consumer(region.guest_to_host());
  BOOST_REQUIRE(producer.post(message(1)).ok());
  BOOST_REQUIRE(producer.post(message(2)).ok());
  reinterpret_cast<layout::SlotHeader*>(region.guest_to_host().slots + layout::kSlotSize)->index = 7;
  std::vector<std::uint32_t> tags;
  auto result = consumer.drain(8, [&](auto m) { tags.push_back(tag_of(m)); });
  BOOST_TEST(result.status == vt::MailboxStatus::kBroken);
  BOOST_TEST(tags == std::vector<std::uint32_t>{1});  // the good message before the bad one got through
  BOOST_TEST(region.guest_to_host().control->tail == 1U);
}

BOOST_FIXTURE_TEST_CASE(tail_outside_the_window_marks_the_producer_broken, Fixture) {
  vt::MailboxProducer producer(region.host_to_guest());
  BOOST_REQUIRE(producer.post(message(1)).ok());
  region.host_to_guest().control->tail = 2;  // the guest claims to have consumed more than was posted
  BOOST_TEST(producer.post(message(2)).status == vt::MailboxStatus::kBroken);
  BOOST_TEST(producer.broken());
  region.host_to_guest().control->tail = 1;
  BOOST_TEST(producer.post(message(2)).status == vt::MailboxStatus::kBroken);
}

BOOST_FIXTURE_TEST_CASE(indices_wrap_around_two_to_the_32, Fixture) {
  region.host_to_guest().control->head = 0xfffffff0U;
  region.host_to_guest().control->tail = 0xfffffff0U;
  vt::MailboxProducer producer(region.host_to_guest());
  vt::MailboxConsumer consumer(region.host_to_guest());
  std::uint32_t next = 0;
  for (std::uint32_t i = 0; i < 40; ++i) {
    BOOST_REQUIRE(producer.post(message(i)).ok());
    auto result = consumer.drain(8, [&](auto m) { BOOST_REQUIRE_EQUAL(tag_of(m), next++); });
    BOOST_REQUIRE(result.status == vt::MailboxStatus::kOk);
  }
  BOOST_TEST(next == 40U);
  BOOST_TEST(region.host_to_guest().control->head == 0x18U);
}

BOOST_FIXTURE_TEST_CASE(event_bits_are_set_taken_once_and_cleared, Fixture) {
  auto bitmap = region.guest_to_host_events();
  for (std::uint32_t relid : {2047U, 0U, 64U, 63U}) {
    BOOST_REQUIRE(bitmap.set(relid));
  }
  BOOST_TEST(!bitmap.set(2048));
  BOOST_TEST(bitmap.test(63));
  BOOST_TEST(bitmap.take_all() == (std::vector<std::uint32_t>{0, 63, 64, 2047}));
  BOOST_TEST(bitmap.take_all().empty());
  BOOST_TEST(!bitmap.test(63));
  // The two directions are distinct memory.
  BOOST_REQUIRE(region.host_to_guest_events().set(9));
  BOOST_TEST(region.guest_to_host_events().take_all().empty());
}

BOOST_FIXTURE_TEST_CASE(concurrent_producer_and_consumer_deliver_every_message_in_order, Fixture) {
  constexpr std::uint32_t kMessages = 20000;
  vt::MailboxProducer producer(region.guest_to_host());
  vt::MailboxConsumer consumer(region.guest_to_host());
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    for (std::uint32_t i = 0; i < kMessages && !failed;) {
      auto result = producer.post(message(i, 8 + (i % 233)));
      if (result.ok()) {
        ++i;
      } else if (result.status != vt::MailboxStatus::kFull) {
        failed = true;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::uint32_t expected = 0;
  while (expected < kMessages && !failed) {
    auto result = consumer.drain(16, [&](std::span<const std::byte> m) {
      if (tag_of(m) != expected || m.size() != 8 + (expected % 233)) {
        failed = true;
      }
      ++expected;
    });
    if (result.status != vt::MailboxStatus::kOk) {
      failed = true;
    }
  }
  writer.join();
  BOOST_TEST(!failed);
  BOOST_TEST(expected == kMessages);
}

BOOST_FIXTURE_TEST_CASE(concurrent_event_bits_are_each_delivered_exactly_once, Fixture) {
  auto bitmap = region.host_to_guest_events();
  std::vector<int> seen(layout::kEventBits, 0);
  std::atomic<bool> done{false};
  std::atomic<bool> set_failed{false};
  std::thread setter([&] {  // no Boost.Test assertions off the main thread
    for (std::uint32_t relid = 0; relid < layout::kEventBits; ++relid) {
      if (!bitmap.set(relid)) {
        set_failed = true;
      }
    }
    done = true;
  });
  auto collect = [&] {
    for (std::uint32_t relid : bitmap.take_all()) {
      ++seen[relid];
    }
  };
  while (!done) {
    collect();
  }
  setter.join();
  collect();
  BOOST_TEST(!set_failed);
  for (std::uint32_t relid = 0; relid < layout::kEventBits; ++relid) {
    BOOST_REQUIRE_EQUAL(seen[relid], 1);
  }
}
