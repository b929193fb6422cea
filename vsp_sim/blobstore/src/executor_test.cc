// The payload executor: blob.proto requests in, responses out.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "blobstore_test_util.h"
#include "vscsim/blobstore/executor.h"
#include "vscsim/base/log.h"
#include "vscsim/blobstore/memory_store.h"

namespace bs = vscsim::blobstore;
namespace pb = vscsim::blob;
using bs::testing::pattern;

namespace {

using namespace bs::testing::request;

struct Fixture {
  std::unique_ptr<bs::Store> store = bs::make_memory_store();
  pb::Response run(const pb::Request& r, bs::RequestBuffers buffers = {}) {
    auto response = bs::execute(*store, r, buffers);
    BOOST_TEST(response.format_version() == 1u);
    return response;
  }
  void put_bytes(const std::string& c, const std::string& b, const std::vector<std::byte>& data) {
    BOOST_REQUIRE_EQUAL(run(put(c, b, data.size()), {data, {}, UINT64_MAX}).status(), pb::OK);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(unknown_format_versions_and_empty_requests_are_refused, Fixture) {
  for (const std::uint32_t v : {0u, 2u, 0xffffffffu}) {
    auto r = create("c");
    r.set_format_version(v);
    const auto response = run(r);
    BOOST_TEST(response.status() == pb::UNSUPPORTED_VERSION);
    BOOST_TEST(!response.message().empty());
  }
  BOOST_TEST(store->object_count() == 0u);  // nothing ran
  BOOST_TEST(run(empty()).status() == pb::INVALID_ARGUMENT);
}

BOOST_FIXTURE_TEST_CASE(put_takes_exactly_data_valid_bytes_and_get_writes_them_back, Fixture) {
  BOOST_REQUIRE_EQUAL(run(create("c")).status(), pb::OK);
  BOOST_TEST(run(create("c")).status() == pb::ALREADY_EXISTS);
  const auto data = pattern(4097);
  // The length in the request must match the bytes the ioctl says are valid.
  BOOST_TEST(run(put("c", "b", 4096), {data, {}, UINT64_MAX}).status() == pb::INVALID_ARGUMENT);
  const auto stored = run(put("c", "b", 4097), {data, {}, UINT64_MAX});
  BOOST_REQUIRE_EQUAL(stored.status(), pb::OK);
  BOOST_TEST(stored.put().blob().name() == "b");
  BOOST_TEST(stored.put().blob().size() == 4097u);
  BOOST_TEST(stored.put().blob().generation() == 1u);

  std::vector<std::byte> out(8192, std::byte{0xee});
  const auto got = run(get("c", "b", 1, 0), {{}, out, UINT64_MAX});
  BOOST_REQUIRE_EQUAL(got.status(), pb::OK);
  BOOST_TEST(got.get().offset() == 1u);
  BOOST_TEST(got.get().length() == 4096u);
  BOOST_TEST(got.get().blob().size() == 4097u);
  BOOST_TEST((std::vector<std::byte>(out.begin(), out.begin() + 4096) ==
              std::vector<std::byte>(data.begin() + 1, data.end())));
  BOOST_TEST((out[4096] == std::byte{0xee}));  // nothing past the bytes returned

  BOOST_TEST(run(get("c", "b", 4098), {{}, out, UINT64_MAX}).status() == pb::OUT_OF_RANGE);
  BOOST_TEST(run(get("c", "nope"), {{}, out, UINT64_MAX}).status() == pb::NOT_FOUND);
  BOOST_TEST(run(get("nope", "b"), {{}, out, UINT64_MAX}).status() == pb::NOT_FOUND);
  BOOST_TEST(run(get("c", "/b"), {{}, out, UINT64_MAX}).status() == pb::INVALID_ARGUMENT);
}

BOOST_FIXTURE_TEST_CASE(a_get_too_big_for_the_data_buffer_says_how_big_the_blob_is, Fixture) {
  BOOST_REQUIRE_EQUAL(run(create("c")).status(), pb::OK);
  put_bytes("c", "b", pattern(5000));
  std::vector<std::byte> out(4096);
  const auto r = run(get("c", "b"), {{}, out, UINT64_MAX});
  BOOST_TEST(r.status() == pb::BUFFER_TOO_SMALL);
  BOOST_TEST(r.get().blob().size() == 5000u);
  BOOST_TEST(r.get().length() == 0u);
  BOOST_TEST(run(get("c", "b", 904), {{}, out, UINT64_MAX}).status() == pb::OK);
}

BOOST_FIXTURE_TEST_CASE(stat_delete_and_container_errors_map_to_payload_statuses, Fixture) {
  BOOST_REQUIRE_EQUAL(run(create("c")).status(), pb::OK);
  put_bytes("c", "b", pattern(3));
  const auto stat_b = stat("c", "b");
  const auto s = run(stat_b);
  BOOST_REQUIRE_EQUAL(s.status(), pb::OK);
  BOOST_TEST(s.stat().size() == 3u);
  BOOST_TEST(s.stat().generation() == 1u);
  const auto del_c = delete_container("c");
  BOOST_TEST(run(del_c).status() == pb::NOT_EMPTY);
  const auto del_b = remove("c", "b");
  BOOST_TEST(run(del_b).status() == pb::OK);
  BOOST_TEST(run(del_b).status() == pb::NOT_FOUND);
  BOOST_TEST(run(stat_b).status() == pb::NOT_FOUND);
  BOOST_TEST(run(del_c).status() == pb::OK);
  BOOST_TEST(run(create("Bad_Name")).status() == pb::INVALID_ARGUMENT);
}

BOOST_AUTO_TEST_CASE(capacity_exhaustion_is_no_space) {
  auto store = bs::make_memory_store(bs::Limits{100, 100});
  BOOST_REQUIRE_EQUAL(bs::execute(*store, create("c"), {}).status(), pb::OK);
  const auto data = pattern(101);
  const auto r = bs::execute(*store, put("c", "b", 101), {data, {}, UINT64_MAX});
  BOOST_TEST(r.status() == pb::NO_SPACE);
  BOOST_TEST(!r.has_put());
}

BOOST_FIXTURE_TEST_CASE(listings_fit_the_response_buffer_and_page_through_every_name, Fixture) {
  BOOST_REQUIRE_EQUAL(run(create("c")).status(), pb::OK);
  std::vector<std::string> want;
  for (int i = 0; i < 100; ++i) {
    want.push_back(std::string(50, 'n') + std::to_string(1000 + i));
    BOOST_REQUIRE_EQUAL(run(put("c", want.back(), 0)).status(), pb::OK);
  }
  // Every capacity from "one entry barely fits" upwards, so that each
  // varint boundary of the size arithmetic is crossed.
  std::vector<std::uint64_t> capacities;
  for (std::uint64_t c = 60; c <= 700; ++c) capacities.push_back(c);
  capacities.push_back(1ull << 20);
  for (const std::uint64_t capacity : capacities) {
    std::vector<std::string> seen;
    std::string after;
    for (int pages = 0;; ++pages) {
      BOOST_REQUIRE(pages <= 100);
      const auto r = run(list("c", after), {{}, {}, capacity});
      BOOST_REQUIRE_EQUAL(r.status(), pb::OK);
      BOOST_REQUIRE(r.list().entries_size() >= 1);
      // What is sent fits (unless a single entry alone is too big) ...
      if (r.list().entries_size() > 1) BOOST_REQUIRE_MESSAGE(r.ByteSizeLong() <= capacity, "capacity " << capacity);
      for (const auto& e : r.list().entries()) seen.push_back(e.name());
      if (!r.list().truncated()) break;
      // ... and no further entry would have.
      auto fuller = r;
      auto* next = fuller.mutable_list()->add_entries();
      next->set_name(want[seen.size()]);
      next->set_generation(1);
      BOOST_REQUIRE_MESSAGE(fuller.ByteSizeLong() > capacity, "capacity " << capacity << " left room");
      after = r.list().entries(r.list().entries_size() - 1).name();
    }
    BOOST_REQUIRE_MESSAGE(seen == want, "capacity " << capacity);
  }
  // max_results caps a page too.
  const auto three = run(list("c", "", 3));
  BOOST_TEST(three.list().entries_size() == 3);
  BOOST_TEST(three.list().truncated());
}

BOOST_FIXTURE_TEST_CASE(a_response_buffer_too_small_for_one_entry_still_gets_one, Fixture) {
  BOOST_REQUIRE_EQUAL(run(create("c")).status(), pb::OK);
  BOOST_REQUIRE_EQUAL(run(put("c", std::string(300, 'x'), 0)).status(), pb::OK);
  BOOST_REQUIRE_EQUAL(run(put("c", std::string(301, 'x'), 0)).status(), pb::OK);
  // Trimming to nothing would leave a paging client stuck on the same page;
  // one entry that does not fit is the caller's "buffer too small".
  const auto r = run(list("c"), {{}, {}, 100});
  BOOST_TEST(r.list().entries_size() == 1);
  BOOST_TEST(r.list().truncated());
  BOOST_TEST(r.ByteSizeLong() > 100u);
}

BOOST_FIXTURE_TEST_CASE(an_empty_container_name_lists_containers_with_blob_counts, Fixture) {
  for (const char* c : {"b", "a", "c"}) BOOST_REQUIRE_EQUAL(run(create(c)).status(), pb::OK);
  BOOST_REQUIRE_EQUAL(run(put("b", "x", 0)).status(), pb::OK);
  const auto r = run(list("", "a"));
  BOOST_REQUIRE_EQUAL(r.status(), pb::OK);
  BOOST_REQUIRE_EQUAL(r.list().entries_size(), 2);
  BOOST_TEST(r.list().entries(0).name() == "b");
  BOOST_TEST(r.list().entries(0).size() == 1u);
  BOOST_TEST(r.list().entries(1).name() == "c");
  BOOST_TEST(!r.list().truncated());
  BOOST_TEST(run(list("zz")).status() == pb::NOT_FOUND);
  BOOST_TEST(!run(list("zz")).has_list());
}

BOOST_AUTO_TEST_CASE(the_same_requests_give_the_same_bytes) {
  auto once = [] {
    auto store = bs::make_memory_store();
    std::string all;
    const auto data = pattern(777);
    std::vector<std::byte> out(1000);
    for (const auto& r : {create("c"), put("c", "b", 777), put("c", "b", 777), get("c", "b", 7),
                          list("c"), list(""), get("c", "x")}) {
      all += bs::execute(*store, r, {data, out, 4096}).SerializeAsString();
    }
    return all;
  };
  BOOST_TEST(once() == once());
}

BOOST_AUTO_TEST_CASE(decoding_garbage_fails_quietly_and_valid_bytes_decode) {
  auto r = create("c");
  std::string bytes = r.SerializeAsString();
  const auto good = bs::decode_request(std::as_bytes(std::span(bytes)));
  BOOST_REQUIRE(good.ok());
  BOOST_TEST(good->create_container().container() == "c");
  // A string field that is not UTF-8: protobuf refuses it, and its own
  // complaint goes to the (rate-limited) library log, not to stderr.
  std::vector<std::string> lines;
  vscsim::log::set_sink([&](vscsim::log::Level, std::string_view t) { lines.emplace_back(t); });
  bytes[bytes.size() - 1] = '\xff';
  BOOST_TEST(!bs::decode_request(std::as_bytes(std::span(bytes))).ok());
  const std::string garbage = "\xff\xff\xff\xff\x0f";
  BOOST_TEST(!bs::decode_request(std::as_bytes(std::span(garbage))).ok());
  vscsim::log::set_sink({});
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(lines[0].find("invalid UTF-8") != std::string::npos, lines[0]);
}
