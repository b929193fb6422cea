// The Azure Blob device model, driven as the az_blob driver drives it:
// requests laid out in real guest pages, GPA-direct packets naming them, and
// a port that records the completions (or refuses them, as a full ring does).
#define BOOST_TEST_MODULE blob_device_test
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "blob_test_guest.h"
#include "blobstore_test_util.h"
#include "vscsim/blob.pb.h"
#include "vscsim/blobstore/memory_store.h"
#include "vscsim/devices/blob.h"

namespace vd = vscsim::devices;
namespace bw = vscsim::devices::blob_wire;
namespace bs = vscsim::blobstore;
namespace pb = vscsim::blob;
namespace w = vscsim::wire;
using vd::testing::BlobGuest;
using vd::testing::LaidOut;
using vd::testing::UserBuffers;
namespace rq = vscsim::blobstore::testing::request;
using vscsim::blobstore::testing::pattern;
using namespace std::chrono_literals;

namespace {

const vd::DeviceClock::time_point kT0 = vd::DeviceClock::time_point{} + 1000h;

struct Sent {
  w::PacketType type;
  std::uint16_t flags;
  std::uint64_t trans_id;
  std::vector<std::byte> payload;

  [[nodiscard]] bw::Completion completion() const {
    BOOST_REQUIRE_EQUAL(payload.size(), sizeof(bw::Completion));
    bw::Completion c{};
    std::memcpy(&c, payload.data(), sizeof c);
    return c;
  }
};

struct Port : vd::ChannelPort {
  explicit Port(const vscsim::memory::GuestMemory& m) : mem(m) {}
  vd::SendStatus send(w::PacketType type, std::uint16_t flags, std::uint64_t trans_id,
                      std::span<const std::byte> payload) override {
    ++attempts;
    if (status != vd::SendStatus::kOk) return status;
    sent.push_back({type, flags, trans_id, {payload.begin(), payload.end()}});
    return vd::SendStatus::kOk;
  }
  const vscsim::memory::GuestMemory& guest_memory() const override { return mem; }
  void fault(vd::HostFault f, std::uint64_t trans_id) override { faults.emplace_back(f, trans_id); }

  const vscsim::memory::GuestMemory& mem;
  vd::SendStatus status = vd::SendStatus::kOk;
  std::vector<Sent> sent;
  std::vector<std::pair<vd::HostFault, std::uint64_t>> faults;
  int attempts = 0;
};

// Serialized requests, as user space puts them in the request buffer.
std::string create_req(const std::string& c) { return rq::create(c).SerializeAsString(); }
std::string put_req(const std::string& c, const std::string& b, std::uint64_t n) {
  return rq::put(c, b, n).SerializeAsString();
}
std::string get_req(const std::string& c, const std::string& b) {
  return rq::get(c, b).SerializeAsString();
}
std::string stat_req(const std::string& c, const std::string& b) {
  return rq::stat(c, b).SerializeAsString();
}
// A 3-byte put of blob `b` into container "c".
UserBuffers put3(const std::string& b) {
  UserBuffers u;
  u.request = put_req("c", b, 3);
  u.data = pattern(3);
  u.data_valid = 3;
  return u;
}

struct Fixture {
  // Enough RAM for a request at the 8192-page cap.
  vd::testing::TestRam ram{8300};
  BlobGuest guest{ram.memory(), 16, 8280};
  vd::Blob blob{bs::make_memory_store()};
  Port port{ram.memory()};
  std::uint64_t next_id = 1;

  Fixture() {
    blob.open(port);
    blob.tick(kT0);
  }

  // Lays out `u`, hands the packet to the model; returns the layout.
  LaidOut send(const UserBuffers& u, std::uint64_t trans_id) {
    const LaidOut r = guest.lay_out(u);
    const auto bytes = vd::testing::gpa_direct_packet(r, trans_id);
    blob.packet(vd::testing::view_of(bytes));
    return r;
  }

  // One request answered at once: its completion and decoded response.
  struct Answer {
    LaidOut layout;
    bw::Completion completion;
    pb::Response response;
  };
  Answer call(const UserBuffers& u) {
    const std::uint64_t id = next_id++;
    const std::size_t before = port.sent.size();
    Answer a{send(u, id), {}, {}};
    BOOST_REQUIRE_EQUAL(port.sent.size(), before + 1);
    const Sent& s = port.sent.back();
    BOOST_TEST((s.type == w::PacketType::kCompletion));
    BOOST_TEST(s.flags == 0u);
    BOOST_TEST(s.trans_id == id);
    a.completion = s.completion();
    BOOST_TEST(a.completion.length == 12u);
    if (a.completion.error == 0) {
      const auto bytes = guest.response(a.layout, a.completion.response_len);
      BOOST_REQUIRE(a.response.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
    }
    return a;
  }
  Answer call(std::string request, std::vector<std::byte> data = {}, std::uint32_t valid = 0) {
    UserBuffers u;
    u.request = std::move(request);
    u.data = std::move(data);
    u.data_valid = valid;
    return call(u);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(blob_is_offered_with_the_azure_blob_interface) {
  vd::Blob b(bs::make_memory_store());
  BOOST_TEST(b.kind() == "blob");
  BOOST_TEST(b.interface_type().to_string() == "0590b792-db64-45cc-81db-b8d70c577c9e");
  const std::array<std::uint8_t, 16> wire_order{0x92, 0xb7, 0x90, 0x05, 0x64, 0xdb, 0xcc, 0x45,
                                                0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e};
  BOOST_TEST(b.interface_type().bytes == wire_order);
  BOOST_TEST(b.instance().to_string() == vd::Blob::default_instance().to_string());
  // Not the companion virtual-PCI instance, which guests must ignore.
  BOOST_TEST(b.instance().to_string() != "d4573da2-2caa-4711-a8f9-bbabf4ee9685");
  const auto second = vd::numbered_instance(vd::Blob::default_instance(), 1);
  BOOST_TEST(second.to_string() != vd::Blob::default_instance().to_string());
  BOOST_TEST(vd::Blob(bs::make_memory_store(), second).instance().to_string() == second.to_string());
  BOOST_TEST(b.describe().rfind("kind=blob state=closed delay_ms=0 requests=0 completions=0 pending=0", 0) == 0,
             b.describe());
}

BOOST_FIXTURE_TEST_CASE(put_and_get_move_exact_bytes_through_guest_pages, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  std::uint32_t seed = 1;
  for (const std::uint32_t size : {0u, 1u, 4095u, 4096u, 4097u, 1u << 20}) {
    // Buffers that start mid-page, as user buffers do.
    const std::uint32_t page_offset = (seed * 1237) % 4096;
    const std::string name = "b" + std::to_string(size);
    const auto data = pattern(size, seed++);
    UserBuffers put;
    put.request = put_req("c", name, size);
    put.data = data;
    put.data_valid = size;
    put.data_page_offset = page_offset;
    const auto stored = call(put);
    BOOST_REQUIRE_EQUAL(stored.completion.error, 0u);
    BOOST_TEST(stored.response.status() == pb::OK);
    BOOST_TEST(stored.response.put().blob().size() == size);
    BOOST_TEST(stored.completion.response_len == stored.response.ByteSizeLong());

    // A data buffer larger than the blob, pre-filled: exactly `size` bytes
    // change, the rest is left as it was.
    UserBuffers get;
    get.request = get_req("c", name);
    get.data = std::vector<std::byte>(size + 4096, std::byte{0x55});
    get.data_page_offset = 4096 - page_offset - 1;
    const auto got = call(get);
    BOOST_REQUIRE_EQUAL(got.completion.error, 0u);
    BOOST_REQUIRE_EQUAL(got.response.status(), pb::OK);
    BOOST_TEST(got.response.get().length() == size);
    const auto back = guest.data(got.layout, size + 4096);
    BOOST_TEST((std::vector<std::byte>(back.begin(), back.begin() + size) == data), "size " << size);
    BOOST_TEST(std::all_of(back.begin() + size, back.end(), [](std::byte b) { return b == std::byte{0x55}; }));
  }
  BOOST_TEST(blob.counters().bytes_in == 0u + 1 + 4095 + 4096 + 4097 + (1u << 20));
  BOOST_TEST(blob.counters().bytes_out == blob.counters().bytes_in);
  BOOST_TEST(blob.counters().requests == blob.counters().completions);
}

BOOST_FIXTURE_TEST_CASE(a_request_at_the_page_cap_works_and_one_page_more_is_invalid, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  // Data pages + 1 request page + 1 response page = 8192.
  const std::uint32_t size = (bw::kMaxPages - 2) * 4096;
  UserBuffers u;
  u.request = put_req("c", "max", size);
  u.data = pattern(size, 9);
  u.data_valid = size;
  u.request_page_offset = 0;
  u.response_page_offset = 0;
  const auto a = call(u);
  BOOST_REQUIRE_EQUAL(a.completion.error, 0u);
  BOOST_TEST(a.response.put().blob().size() == size);
  u.data.resize(size + 1);
  u.data_valid = size + 1;
  u.request = put_req("c", "over", size + 1);
  BOOST_TEST(call(u).completion.error == 1u);
  BOOST_TEST(blob.store().stat("c", "over").error().code == bs::ErrorCode::kNotFound);
}

BOOST_FIXTURE_TEST_CASE(malformed_requests_get_the_documented_answer_and_change_nothing, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  struct Case {
    const char* what;
    std::function<void(UserBuffers&)> user;                       // before lay-out
    std::function<void(LaidOut&)> wire;                           // after lay-out
    std::function<std::vector<std::byte>(const LaidOut&)> packet;  // the packet, if special
    std::uint16_t flags;
    std::uint64_t trans_id;
    int want;  // wire status, or -1: no completion, counted as a bad packet
  };
  const auto none = [](auto&) {};
  const std::vector<Case> cases = {
      {"offset past the pages", none, [](LaidOut& r) { r.wire.response_buffer_offset = r.range.byte_count; }, {}, 1, 7, 1},
      {"length past the pages", none,
       [](LaidOut& r) { r.wire.response_buffer_length = r.range.byte_count - r.wire.response_buffer_offset + 1; }, {}, 1, 7, 1},
      {"u32 wrap of offset + length", none,
       [](LaidOut& r) { r.wire.request_buffer_offset = 0xfffff000; r.wire.request_buffer_length = 0x2000; }, {}, 1, 7, 1},
      {"data_valid > data length", [](UserBuffers& u) { u.data = pattern(10); u.data_valid = 11; }, none, {}, 1, 7, 1},
      {"range count 2", none, none,
       [](const LaidOut& r) {
         const w::ParsedGpaRange two[] = {r.range, r.range};
         return vd::testing::gpa_direct_packet(two, std::as_bytes(std::span(&r.wire, 1)), 7);
       }, 1, 7, 1},
      {"short in-band payload", none, none,
       [](const LaidOut& r) {
         return vd::testing::gpa_direct_packet(std::span(&r.range, 1),
                                               std::as_bytes(std::span(&r.wire, 1)).first(40), 7);
       }, 1, 7, 1},
      {"version 1", none, [](LaidOut& r) { r.wire.version = 1; }, {}, 1, 7, 1},
      {"operation 0x101", none, [](LaidOut& r) { r.wire.operation_type = 0x101; }, {}, 1, 7, 1},
      {"protobuf garbage", [](UserBuffers& u) { u.request = "\xff\xff\xff\xff\xff\x01garbage"; }, none, {}, 1, 7, 1},
      {"range not at byte 0", none, [](LaidOut& r) { r.range.byte_offset = 16; r.range.byte_count -= 16; }, {}, 1, 7, 1},
      {"a page that is not RAM", none, [](LaidOut& r) { r.range.pfns.back() = 1u << 30; }, {}, 1, 7, 1},
      {"buffers overlap", none, [](LaidOut& r) { r.wire.request_buffer_offset = r.wire.response_buffer_offset; }, {}, 1, 7, 1},
      {"response buffer too small", [](UserBuffers& u) { u.response_len = 1; }, none, {}, 1, 7, 3},
      {"not GPA-direct", none, none,
       [](const LaidOut& r) {
         auto p = vd::testing::gpa_direct_packet(r, 7);
         p[0] = std::byte{6};  // VM_PKT_DATA_INBAND
         return p;
       }, 1, 7, -1},
      {"no completion requested", none, none, {}, 0, 7, -1},
      {"trans_id 0", none, none, {}, 1, 0, -1},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      UserBuffers u;
      u.request = put_req("c", "victim", 0);
      u.response_len = 512;
      c.user(u);
      LaidOut r = guest.lay_out(u);
      const LaidOut original = r;  // where the guest's response buffer really is
      c.wire(r);
      const auto bytes = c.packet ? c.packet(r) : vd::testing::gpa_direct_packet(r, c.trans_id, c.flags);
      const auto before = blob.counters();
      port.sent.clear();
      blob.packet(vd::testing::view_of(bytes));
      if (c.want < 0) {
        BOOST_TEST(port.sent.empty());
        BOOST_TEST(blob.counters().bad_packets == before.bad_packets + 1);
      } else {
        BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
        BOOST_TEST(port.sent[0].trans_id == c.trans_id);
        const auto done = port.sent[0].completion();
        BOOST_TEST(done.length == 12u);
        BOOST_TEST(done.error == static_cast<std::uint32_t>(c.want));
        BOOST_TEST(done.response_len == 0u);
        BOOST_TEST(blob.counters().bad_packets == before.bad_packets);
      }
      // No answer was written: the response pages keep the guest's filler.
      BOOST_TEST((guest.response(original, 1)[0] == std::byte{0xaa}));
      if (c.want != 3) {
        BOOST_TEST(!blob.store().stat("c", "victim").ok());  // nothing ran
      } else {
        // Too small a buffer: the operation ran, the answer could not be given.
        BOOST_TEST(blob.store().stat("c", "victim").ok());
        BOOST_REQUIRE(blob.store().delete_blob("c", "victim").ok());
      }
    }
  }
  BOOST_TEST(blob.pending() == 0u);
}

BOOST_FIXTURE_TEST_CASE(completions_wait_in_order_while_the_ring_is_full, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  port.sent.clear();
  port.status = vd::SendStatus::kFull;
  UserBuffers u;
  u.request = put_req("c", "b", 0);
  send(u, 101);
  u.request = stat_req("c", "b");
  send(u, 102);
  BOOST_TEST(port.sent.empty());
  BOOST_TEST(blob.pending() == 2u);
  BOOST_TEST(!blob.next_deadline().has_value());  // waiting for room, not for time
  BOOST_TEST(blob.describe().find("pending=2") != std::string::npos);
  // Still full: resume changes nothing.
  blob.resume();
  BOOST_TEST(port.sent.empty());
  // Room again; a new request arrives before the resume: the old answers go first.
  port.status = vd::SendStatus::kOk;
  send(u, 103);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 3u);
  BOOST_TEST(port.sent[0].trans_id == 101u);
  BOOST_TEST(port.sent[1].trans_id == 102u);
  BOOST_TEST(port.sent[2].trans_id == 103u);
  for (const auto& s : port.sent) BOOST_TEST(s.completion().error == 0u);
  BOOST_TEST(blob.pending() == 0u);

  // The same through resume() alone.
  port.sent.clear();
  port.status = vd::SendStatus::kFull;
  send(u, 104);
  send(u, 105);
  port.status = vd::SendStatus::kOk;
  blob.resume();
  BOOST_REQUIRE_EQUAL(port.sent.size(), 2u);
  BOOST_TEST(port.sent[0].trans_id == 104u);
  BOOST_TEST(port.sent[1].trans_id == 105u);
  BOOST_TEST(blob.counters().completions == blob.counters().requests);
}

BOOST_FIXTURE_TEST_CASE(waiting_answers_are_capped_and_a_broken_ring_drops_them, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  port.status = vd::SendStatus::kFull;
  UserBuffers u;
  u.request = stat_req("c", "none");
  const LaidOut r = guest.lay_out(u);
  for (std::uint64_t id = 1; id <= vd::Blob::kMaxPending + 3; ++id) {
    const auto bytes = vd::testing::gpa_direct_packet(r, id);
    blob.packet(vd::testing::view_of(bytes));
  }
  BOOST_TEST(blob.pending() == vd::Blob::kMaxPending);
  BOOST_TEST(blob.counters().dropped == 3u);
  port.status = vd::SendStatus::kClosed;
  blob.resume();
  BOOST_TEST(blob.pending() == 0u);
  BOOST_TEST(blob.counters().dropped == vd::Blob::kMaxPending + 3);
}

BOOST_FIXTURE_TEST_CASE(a_delayed_request_runs_at_its_time_and_one_past_its_timeout_fails, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  port.sent.clear();
  blob.set_delay(100ms);
  UserBuffers u;
  u.request = put_req("c", "slow", 3);
  u.data = pattern(3);
  u.data_valid = 3;
  u.timeout_ms = 1000;
  const LaidOut slow = send(u, 11);
  BOOST_TEST(port.sent.empty());
  BOOST_TEST(!blob.store().stat("c", "slow").ok());  // not run yet
  BOOST_REQUIRE(blob.next_deadline().has_value());
  BOOST_TEST((*blob.next_deadline() == kT0 + 100ms));
  blob.tick(kT0 + 99ms);
  BOOST_TEST(port.sent.empty());
  blob.tick(kT0 + 100ms);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST(port.sent[0].trans_id == 11u);
  BOOST_TEST(port.sent[0].completion().error == 0u);
  BOOST_TEST(blob.store().stat("c", "slow").ok());
  BOOST_TEST(!blob.next_deadline().has_value());

  // Delay 5 s, timeouts 1 s and 0 (none): the first fails at 1 s with status
  // 2 and never runs; the second completes at 5 s.
  port.sent.clear();
  blob.set_delay(5000ms);
  const auto t1 = kT0 + 10s;
  blob.tick(t1);
  u.request = put_req("c", "late", 3);
  const LaidOut late = send(u, 12);
  u.timeout_ms = 0;
  u.request = put_req("c", "patient", 3);
  send(u, 13);
  BOOST_TEST((*blob.next_deadline() == t1 + 1000ms));
  BOOST_TEST(blob.describe().find("pending=2") != std::string::npos);
  blob.tick(t1 + 1000ms);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST(port.sent[0].trans_id == 12u);
  BOOST_TEST(port.sent[0].completion().error == 2u);
  BOOST_TEST(port.sent[0].completion().response_len == 0u);
  BOOST_TEST(!blob.store().stat("c", "late").ok());
  BOOST_TEST((guest.response(late, 1)[0] == std::byte{0xaa}));
  BOOST_TEST((*blob.next_deadline() == t1 + 5000ms));
  blob.tick(t1 + 5000ms);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 2u);
  BOOST_TEST(port.sent[1].trans_id == 13u);
  BOOST_TEST(port.sent[1].completion().error == 0u);
  BOOST_TEST(blob.store().stat("c", "patient").ok());
  BOOST_TEST(blob.counters().timed_out == 1u);
  (void)slow;
}

BOOST_FIXTURE_TEST_CASE(a_late_delay_answers_after_the_timeout_and_runs_the_request, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  port.sent.clear();
  blob.set_delay(3000ms, vd::Blob::DelayMode::kIgnoreTimeout);
  BOOST_TEST(blob.describe().find("delay_ms=3000 (late)") != std::string::npos, blob.describe());
  UserBuffers u;
  u.request = put_req("c", "ignored-timeout", 3);
  u.data = pattern(3);
  u.data_valid = 3;
  u.timeout_ms = 1000;
  send(u, 31);
  BOOST_TEST((*blob.next_deadline() == kT0 + 3000ms));
  blob.tick(kT0 + 1000ms);
  BOOST_TEST(port.sent.empty());  // the guest's timeout passes unanswered
  blob.tick(kT0 + 3000ms);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST(port.sent[0].trans_id == 31u);
  BOOST_TEST(port.sent[0].completion().error == 0u);
  BOOST_TEST(blob.store().stat("c", "ignored-timeout").ok());
  BOOST_TEST(blob.counters().timed_out == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_injected_completion_carries_the_given_id_and_length, Fixture) {
  BOOST_REQUIRE(blob.inject_completion(0, 12).ok());
  BOOST_REQUIRE(blob.inject_completion(424242, 4).ok());
  BOOST_REQUIRE_EQUAL(port.sent.size(), 2u);
  BOOST_TEST((port.sent[0].type == w::PacketType::kCompletion));
  BOOST_TEST(port.sent[0].trans_id == 0u);
  BOOST_TEST(port.sent[0].completion().error == 0u);
  BOOST_TEST(port.sent[1].trans_id == 424242u);
  BOOST_TEST(port.sent[1].payload.size() == 4u);  // a short completion
  BOOST_TEST(blob.counters().injected == 2u);
  BOOST_TEST(blob.describe().find("injected=2") != std::string::npos);
  port.status = vd::SendStatus::kFull;
  const auto full = blob.inject_completion(1, 12);
  BOOST_REQUIRE(!full.ok());
  BOOST_TEST(full.error().find("full") != std::string::npos, full.error());
  blob.close();
  BOOST_TEST(!blob.inject_completion(1, 12).ok());
  BOOST_TEST(blob.counters().injected == 2u);
}

BOOST_FIXTURE_TEST_CASE(closing_the_channel_drops_what_waits, Fixture) {
  blob.set_delay(50ms);
  UserBuffers u;
  u.request = create_req("c");
  send(u, 21);
  BOOST_TEST(blob.pending() == 1u);
  blob.close();
  BOOST_TEST(blob.pending() == 0u);
  BOOST_TEST(!blob.next_deadline().has_value());
  BOOST_TEST(blob.counters().dropped == 1u);
  blob.tick(kT0 + 1s);
  BOOST_TEST(port.sent.empty());
  BOOST_TEST(blob.store().object_count() == 0u);  // it never ran
  BOOST_TEST(blob.describe().find("state=closed") != std::string::npos);
  // Open again: the model answers as before.
  blob.open(port);
  blob.set_delay(0ms);
  BOOST_TEST(call(create_req("c")).response.status() == pb::OK);
}

BOOST_FIXTURE_TEST_CASE(store_answers_pass_through_with_wire_status_0, Fixture) {
  const auto missing = call(stat_req("nope", "b"));
  BOOST_TEST(missing.completion.error == 0u);
  BOOST_TEST(missing.response.status() == pb::NOT_FOUND);
  BOOST_TEST(!missing.response.message().empty());
  auto old = rq::empty();
  old.set_format_version(7);
  old.mutable_create_container()->set_container("c");
  BOOST_TEST(call(old.SerializeAsString()).response.status() == pb::UNSUPPORTED_VERSION);
  // A put whose length disagrees with data_valid.
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  BOOST_TEST(call(put_req("c", "b", 5), pattern(5), 4).response.status() == pb::INVALID_ARGUMENT);
  // A get bigger than the data buffer.
  BOOST_REQUIRE_EQUAL(call(put_req("c", "b", 5), pattern(5), 5).response.status(), pb::OK);
  const auto small = call(get_req("c", "b"), std::vector<std::byte>(4));
  BOOST_TEST(small.response.status() == pb::BUFFER_TOO_SMALL);
  BOOST_TEST(small.response.get().blob().size() == 5u);
  // A data buffer all of whose bytes are marked valid has no room for an
  // answer (the driver pins it read-only): the host writes nothing there.
  const auto full = call(get_req("c", "b"), std::vector<std::byte>(8, std::byte{0x11}), 8);
  BOOST_TEST(full.response.status() == pb::BUFFER_TOO_SMALL);
  const auto kept = guest.data(full.layout, 8);
  BOOST_TEST(std::all_of(kept.begin(), kept.end(), [](std::byte b) { return b == std::byte{0x11}; }));
}

BOOST_FIXTURE_TEST_CASE(dropped_completions_are_carried_out_but_never_sent, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  port.sent.clear();
  blob.drop_completions(2, 1);
  BOOST_TEST(blob.describe().find(" drop=2 after=1") != std::string::npos, blob.describe());
  // The first goes through; the next two run on the store and get no answer.
  BOOST_TEST(call(put_req("c", "answered", 3), pattern(3), 3).response.status() == pb::OK);
  send(put3("lost-1"), 41);
  BOOST_TEST(blob.describe().find(" drop=1 after=0") != std::string::npos, blob.describe());
  send(put3("lost-2"), 42);
  BOOST_TEST(port.sent.size() == 1u);
  BOOST_TEST(blob.store().stat("c", "lost-1").ok());
  BOOST_TEST(blob.store().stat("c", "lost-2").ok());
  BOOST_REQUIRE_EQUAL(port.faults.size(), 2u);
  BOOST_TEST((port.faults[0] == std::pair{vd::HostFault::kDropCompletion, std::uint64_t{41}}));
  BOOST_TEST((port.faults[1] == std::pair{vd::HostFault::kDropCompletion, std::uint64_t{42}}));
  BOOST_TEST(vd::name(vd::HostFault::kDropCompletion) == "drop_completion");
  BOOST_TEST(blob.counters().withheld == 2u);
  BOOST_TEST(blob.counters().completions == 2u);
  // The drop is used up: answers come again, and state no longer shows it.
  BOOST_TEST(blob.describe().find(" drop=") == std::string::npos, blob.describe());
  BOOST_TEST(blob.describe().find("withheld=2") != std::string::npos, blob.describe());
  BOOST_TEST(call(stat_req("c", "lost-2")).response.status() == pb::OK);
}

BOOST_FIXTURE_TEST_CASE(a_drop_counts_requests_as_they_arrive_and_can_be_cancelled, Fixture) {
  BOOST_REQUIRE_EQUAL(call(create_req("c")).response.status(), pb::OK);
  port.sent.clear();
  // Delayed: the second to arrive is dropped even if it is due first, and
  // an invalid request counts like any other.
  blob.set_delay(100ms);
  blob.drop_completions(1, 1);
  send(put3("first"), 51);
  blob.tick(kT0 + 50ms);
  UserBuffers quick = put3("second");
  quick.timeout_ms = 10;  // fails at its timeout (wire status 2), before the first
  send(quick, 52);
  blob.tick(kT0 + 1s);
  BOOST_REQUIRE_EQUAL(port.sent.size(), 1u);
  BOOST_TEST(port.sent[0].trans_id == 51u);
  BOOST_REQUIRE_EQUAL(port.faults.size(), 1u);
  BOOST_TEST(port.faults[0].second == 52u);
  // count 0 cancels a pending drop.
  blob.set_delay(0ms);
  blob.drop_completions(3, 0);
  blob.drop_completions(0, 5);
  BOOST_TEST(blob.describe().find(" drop=") == std::string::npos, blob.describe());
  BOOST_TEST(call(stat_req("c", "first")).response.status() == pb::OK);
  BOOST_TEST(port.faults.size() == 1u);
}
