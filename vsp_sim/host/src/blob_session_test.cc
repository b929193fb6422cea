// The blob device behind a real Session: requests travel through the
// guest-to-host ring as GPA-direct packets naming guest pages, completions
// come back through the host-to-guest ring, a full ring holds them back until
// the guest makes room, and delays run on the session's (test) clock.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "blob_test_guest.h"
#include "blobstore_test_util.h"
#include "src/blob_session_fixture.h"
#include "src/test_guest_fixture.h"
#include "vscsim/blob.pb.h"
#include "vscsim/blobstore/memory_store.h"
#include "vscsim/devices/blob.h"

namespace vh = vscsim::host;
namespace vd = vscsim::devices;
namespace bw = vscsim::devices::blob_wire;
namespace pb = vscsim::blob;
namespace rq = vscsim::blobstore::testing::request;
namespace w = vscsim::wire;
using vd::testing::BlobGuest;
using vd::testing::LaidOut;
using vd::testing::UserBuffers;
using vh::testing::SessionFixture;
using vscsim::transport::layout::kVectorChannel;
using namespace std::chrono_literals;

namespace {

using vh::testing::BlobSession;
using vh::testing::Got;
using vh::testing::create_container;
using vh::testing::stat;

// A session whose clock only moves when the test says so.
struct ClockedSession {
  ClockedSession() : s(config()) {}
  vh::SessionConfig config() {
    vh::SessionConfig c;
    c.clock = [this] { return now; };
    return c;
  }
  vd::DeviceClock::time_point now = vd::DeviceClock::time_point{} + 5000h;
  BlobSession s;
};

}  // namespace

BOOST_AUTO_TEST_CASE(blob_requests_and_completions_travel_through_the_rings) {
  BlobSession s;
  s.post(create_container("c"), 1);
  s.f.session->poll();
  auto done = s.read_completions();
  BOOST_REQUIRE_EQUAL(done.size(), 1u);
  BOOST_TEST(done[0].trans_id == 1u);
  BOOST_TEST(done[0].completion.error == 0u);

  std::vector<std::byte> data(9000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + i / 251);
  UserBuffers u;
  u.request = rq::put("c", "b", data.size()).SerializeAsString();
  u.data = data;
  u.data_valid = static_cast<std::uint32_t>(data.size());
  u.data_page_offset = 3000;
  const auto before = s.f.count_signals(kVectorChannel);
  s.post(u, 2);
  s.f.session->poll();
  BOOST_TEST(s.f.count_signals(kVectorChannel) == before + 1);  // one completion, one signal
  done = s.read_completions();
  BOOST_REQUIRE_EQUAL(done.size(), 1u);
  BOOST_TEST(done[0].trans_id == 2u);

  UserBuffers g;
  g.request = rq::get("c", "b").SerializeAsString();
  g.data = std::vector<std::byte>(12000);
  const LaidOut got = s.post(g, 3);
  s.f.session->poll();
  done = s.read_completions();
  BOOST_REQUIRE_EQUAL(done.size(), 1u);
  BOOST_REQUIRE_EQUAL(done[0].completion.error, 0u);
  const auto response = s.response_of(got, done[0]);
  BOOST_TEST(response.get().length() == data.size());
  BOOST_TEST((s.guest.data(got, data.size()) == data));
  BOOST_TEST(s.f.session->stats().packets_written == 3u);
}

BOOST_AUTO_TEST_CASE(a_full_host_to_guest_ring_holds_completions_in_order_until_the_guest_reads) {
  BlobSession s;
  s.post(create_container("c"), 1);
  s.f.session->poll();
  BOOST_REQUIRE_EQUAL(s.read_completions().size(), 1u);

  // The guest keeps sending and does not read its ring: 8 KiB holds about
  // 200 completions of 40 bytes; the rest must wait in the model.
  constexpr std::uint64_t kRequests = 300;
  const UserBuffers u = stat("c", "none");
  std::uint64_t id = 100;
  for (std::uint64_t batch = 0; batch < kRequests / 50; ++batch) {
    for (int i = 0; i < 50; ++i) s.post(u, id++);
    s.f.session->poll();
    while (s.f.session->busy()) s.f.session->poll();
  }
  BOOST_TEST(s.blob.pending() > 0u);
  BOOST_TEST(s.blob.counters().completions + s.blob.pending() == kRequests + 1);
  BOOST_TEST(s.blob.counters().dropped == 0u);

  std::vector<std::uint64_t> seen;
  int rounds = 0;
  while (seen.size() < kRequests) {
    BOOST_REQUIRE_MESSAGE(++rounds < 20, "completions stopped coming: " << seen.size());
    bool crossed = false;
    for (const Got& g : s.read_completions(&crossed)) {
      BOOST_TEST(g.completion.error == 0u);
      seen.push_back(g.trans_id);
    }
    if (seen.size() == kRequests) break;
    // The host asked for room (pending_send_sz): the guest's read crossed
    // it, so the guest signals, and the host sends what waited.
    BOOST_REQUIRE_MESSAGE(crossed, "the guest read but had no reason to signal");
    s.f.signal_host(1);
    s.f.session->poll();
  }
  for (std::uint64_t i = 0; i < kRequests; ++i) BOOST_REQUIRE_EQUAL(seen[i], 100 + i);
  BOOST_TEST(s.blob.pending() == 0u);
}

BOOST_FIXTURE_TEST_CASE(delayed_completions_run_on_the_session_clock, ClockedSession) {
  s.blob.set_delay(100ms);
  s.post(create_container("c"), 1);
  s.f.session->poll();
  BOOST_TEST(s.read_completions().empty());
  BOOST_REQUIRE(s.f.session->next_deadline().has_value());
  BOOST_TEST((*s.f.session->next_deadline() == now + 100ms));
  BOOST_TEST(s.blob.describe().find("pending=1") != std::string::npos);

  now += 99ms;
  s.f.session->poll();
  BOOST_TEST(s.read_completions().empty());
  const auto signals = s.f.count_signals(kVectorChannel);
  now += 1ms;
  s.f.session->poll();  // no guest signal: the timer alone
  BOOST_TEST(s.f.count_signals(kVectorChannel) == signals + 1);
  auto done = s.read_completions();
  BOOST_REQUIRE_EQUAL(done.size(), 1u);
  BOOST_TEST(done[0].completion.error == 0u);
  BOOST_TEST(!s.f.session->next_deadline().has_value());

  // Longer than the request's own timeout: the host gives up at the timeout.
  s.blob.set_delay(60s);
  UserBuffers u = create_container("d");
  u.timeout_ms = 2000;
  const LaidOut late = s.post(u, 2);
  s.f.session->poll();
  BOOST_TEST((*s.f.session->next_deadline() == now + 2000ms));
  now += 2000ms;
  s.f.session->poll();
  done = s.read_completions();
  BOOST_REQUIRE_EQUAL(done.size(), 1u);
  BOOST_TEST(done[0].trans_id == 2u);
  BOOST_TEST(done[0].completion.error == static_cast<std::uint32_t>(bw::WireStatus::kTimedOut));
  BOOST_TEST(s.blob.store().list_containers({"d", "", 0})->entries.empty());
  (void)late;
}

BOOST_FIXTURE_TEST_CASE(closing_the_channel_drops_delayed_answers, ClockedSession) {
  s.blob.set_delay(1s);
  s.post(create_container("c"), 1);
  s.f.session->poll();
  BOOST_TEST(s.blob.pending() == 1u);
  w::CloseChannelMsg close{};
  close.header.msgtype = w::ChannelMessageType::kCloseChannel;
  close.child_relid = 1;
  s.f.guest->post(close);
  s.f.control_round();
  BOOST_TEST(s.blob.pending() == 0u);
  BOOST_TEST(s.blob.counters().dropped == 1u);
  BOOST_TEST(!s.f.session->next_deadline().has_value());
  now += 2s;
  s.f.session->poll();
  BOOST_TEST(s.blob.store().object_count() == 0u);  // it never ran
}

// The packet trace sees the whole conversation: the channel messages of the
// open, the request (GPA-direct, its id) and its completion (the same id).
BOOST_AUTO_TEST_CASE(the_packet_trace_records_messages_requests_and_completions) {
  vh::PacketTrace trace(1024);
  vh::SessionConfig config;
  config.trace = &trace;
  BlobSession s(config);
  s.post(create_container("c"), 77);
  s.f.session->poll();
  BOOST_REQUIRE_EQUAL(s.read_completions().size(), 1u);

  using K = vh::TraceEvent::Kind;
  auto count = [&](K kind, std::uint32_t type) {
    return std::count_if(trace.events().begin(), trace.events().end(),
                         [&](const vh::TraceEvent& e) { return e.kind == kind && e.type == type; });
  };
  const auto msg = [](w::ChannelMessageType t) { return static_cast<std::uint32_t>(t); };
  BOOST_TEST(count(K::kHostMessage, msg(w::ChannelMessageType::kOfferChannel)) == 1);
  BOOST_TEST(count(K::kGuestMessage, msg(w::ChannelMessageType::kOpenChannel)) == 1);
  BOOST_TEST(count(K::kHostMessage, msg(w::ChannelMessageType::kOpenChannelResult)) == 1);
  const auto& ev = trace.events();
  const auto request = std::find_if(ev.begin(), ev.end(), [](const vh::TraceEvent& e) {
    return e.kind == K::kGuestPacket;
  });
  BOOST_REQUIRE(request != ev.end());
  BOOST_TEST(request->type == static_cast<std::uint32_t>(w::PacketType::kDataUsingGpaDirect));
  BOOST_TEST(request->trans_id == 77u);
  BOOST_TEST(request->relid == 1u);
  const auto completion = std::find_if(request, ev.end(), [](const vh::TraceEvent& e) {
    return e.kind == K::kHostPacket;
  });
  BOOST_REQUIRE(completion != ev.end());
  BOOST_TEST(completion->type == static_cast<std::uint32_t>(w::PacketType::kCompletion));
  BOOST_TEST(completion->trans_id == 77u);
  BOOST_TEST(completion->length == sizeof(bw::Completion));
  BOOST_TEST(completion->t_ns >= request->t_ns);
  // Opening messages name the channel they are about.
  for (const auto& e : ev) {
    if (e.kind == K::kGuestMessage && e.type == msg(w::ChannelMessageType::kOpenChannel)) {
      BOOST_TEST(e.relid == 1u);
    }
  }
}

// A dropped completion leaves no packet but a host_fault event in the trace,
// with the id the guest will never hear about.
BOOST_AUTO_TEST_CASE(a_dropped_completion_is_a_host_fault_in_the_trace) {
  vh::PacketTrace trace(1024);
  vh::SessionConfig config;
  config.trace = &trace;
  BlobSession s(config);
  s.blob.drop_completions(1, 0);
  s.post(create_container("c"), 5);
  s.f.session->poll();
  BOOST_TEST(s.read_completions().empty());
  BOOST_TEST(s.blob.store().object_count() == 1u);  // carried out all the same
  s.post(stat("c", "b"), 6);
  s.f.session->poll();
  BOOST_REQUIRE_EQUAL(s.read_completions().size(), 1u);
  const auto& ev = trace.events();
  const auto fault = std::find_if(ev.begin(), ev.end(), [](const vh::TraceEvent& e) {
    return e.kind == vh::TraceEvent::Kind::kHostFault;
  });
  BOOST_REQUIRE(fault != ev.end());
  BOOST_TEST(fault->type == static_cast<std::uint32_t>(vd::HostFault::kDropCompletion));
  BOOST_TEST(fault->trans_id == 5u);
  BOOST_TEST(fault->relid == 1u);
  BOOST_TEST(trace.to_json_lines().find(R"("fault":"drop_completion")") != std::string::npos);
}
