// The Store contract, run against both implementations.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "blobstore_test_util.h"
#include "vscsim/blobstore/directory_store.h"
#include "vscsim/blobstore/memory_store.h"

namespace bs = vscsim::blobstore;
using bs::ErrorCode;
using bs::testing::pattern;

namespace {

struct InMemory {
  std::unique_ptr<bs::Store> make(bs::Limits limits = {}) { return bs::make_memory_store(limits); }
};

struct InDirectory {
  bs::testing::TempDir dir;
  std::unique_ptr<bs::Store> make(bs::Limits limits = {}) {
    auto s = bs::open_directory_store(dir.path / "store", limits);
    BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(s).value();
  }
};

using Kinds = boost::mpl::list<InMemory, InDirectory>;

template <class R>
ErrorCode code_of(const R& r) {
  BOOST_REQUIRE(!r.ok());
  return r.error().code;
}

std::vector<std::byte> get_all(bs::Store& s, std::string_view c, std::string_view b,
                               bs::ByteRange range = {}, std::size_t room = 2 << 20) {
  std::vector<std::byte> out(room);
  auto r = s.get(c, b, range, out);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  out.resize(r->length);
  return out;
}

std::vector<std::string> names(const bs::ListPage& page) {
  std::vector<std::string> out;
  for (const auto& e : page.entries) out.push_back(e.name);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(blobs_round_trip_byte_exact_at_page_edges, Kind, Kinds) {
  Kind kind;
  auto s = kind.make();
  BOOST_REQUIRE(s->create_container("c").ok());
  std::uint32_t seed = 1;
  for (const std::size_t size : {0u, 1u, 4095u, 4096u, 4097u, 1u << 20}) {
    const std::string name = "blob-" + std::to_string(size);
    const auto data = pattern(size, seed++);
    auto put = s->put("c", name, data);
    BOOST_REQUIRE(put.ok());
    BOOST_TEST(put->size == size);
    BOOST_TEST(put->generation == 1u);
    BOOST_TEST((get_all(*s, "c", name) == data), "size " << size);
  }
  // Each blob kept its own bytes (no buffer shared between puts).
  BOOST_TEST((get_all(*s, "c", "blob-4096") == pattern(4096, 4)));
  BOOST_TEST(s->used_bytes() == 0u + 1 + 4095 + 4096 + 4097 + (1u << 20));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(put_replaces_the_whole_blob_and_counts_generations, Kind, Kinds) {
  Kind kind;
  auto s = kind.make();
  BOOST_REQUIRE(s->create_container("c").ok());
  BOOST_TEST(s->put("c", "b", pattern(5000, 1))->generation == 1u);
  auto second = s->put("c", "b", pattern(10, 2));
  BOOST_TEST(second->generation == 2u);
  BOOST_TEST(second->size == 10u);
  BOOST_TEST((get_all(*s, "c", "b") == pattern(10, 2)));  // no tail of the old bytes
  BOOST_TEST(s->stat("c", "b")->generation == 2u);
  BOOST_TEST(s->used_bytes() == 10u);
  BOOST_REQUIRE(s->delete_blob("c", "b").ok());
  BOOST_TEST(code_of(s->stat("c", "b")) == ErrorCode::kNotFound);
  BOOST_TEST(s->put("c", "b", pattern(1, 3))->generation == 1u);  // a new blob
}

BOOST_AUTO_TEST_CASE_TEMPLATE(get_reads_ranges_and_refuses_offsets_past_the_end, Kind, Kinds) {
  Kind kind;
  auto s = kind.make();
  BOOST_REQUIRE(s->create_container("c").ok());
  const auto data = pattern(10000, 7);
  BOOST_REQUIRE(s->put("c", "b", data).ok());
  auto slice = [&](std::size_t from, std::size_t n) {
    return std::vector<std::byte>(data.begin() + static_cast<long>(from),
                                  data.begin() + static_cast<long>(from + n));
  };
  BOOST_TEST((get_all(*s, "c", "b", {4095, 4098}) == slice(4095, 4098)));
  BOOST_TEST((get_all(*s, "c", "b", {9000, 0}) == slice(9000, 1000)));     // 0: to the end
  BOOST_TEST((get_all(*s, "c", "b", {9000, 5000}) == slice(9000, 1000)));  // cut at the end
  BOOST_TEST(get_all(*s, "c", "b", {10000, 0}).empty());                    // offset == size
  BOOST_TEST(get_all(*s, "c", "b", {10000, 7}).empty());
  std::vector<std::byte> out(20000);
  BOOST_TEST(code_of(s->get("c", "b", {10001, 0}, out)) == ErrorCode::kOutOfRange);
  BOOST_TEST(code_of(s->get("c", "b", {UINT64_MAX, 1}, out)) == ErrorCode::kOutOfRange);

  // A buffer one byte short: refused, and nothing is written into it.
  std::vector<std::byte> small(999, std::byte{0x5a});
  BOOST_TEST(code_of(s->get("c", "b", {9000, 0}, small)) == ErrorCode::kBufferTooSmall);
  BOOST_TEST(std::all_of(small.begin(), small.end(), [](std::byte b) { return b == std::byte{0x5a}; }));
  auto exact = s->get("c", "b", {9001, 0}, small);
  BOOST_REQUIRE(exact.ok());
  BOOST_TEST(exact->length == 999u);
  BOOST_TEST(exact->blob.size == 10000u);
  BOOST_TEST((small == slice(9001, 999)));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(listings_page_in_bytewise_order_with_prefix_and_start_after, Kind,
                              Kinds) {
  Kind kind;
  auto s = kind.make();
  BOOST_REQUIRE(s->create_container("c").ok());
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) {
    char n[8];
    std::snprintf(n, sizeof n, "p%02d", i);
    want.push_back(n);
  }
  // Inserted out of order, with neighbours outside the prefix on both sides.
  for (auto it = want.rbegin(); it != want.rend(); ++it) BOOST_REQUIRE(s->put("c", *it, {}).ok());
  for (const char* other : {"o", "q", "pz/../x", "P00"}) BOOST_REQUIRE(s->put("c", other, {}).ok());

  std::vector<std::string> seen;
  bs::ListQuery q{"p", "", 10};
  int pages = 0;
  for (;;) {
    auto page = s->list_blobs("c", q);
    BOOST_REQUIRE(page.ok());
    ++pages;
    for (const auto& n : names(*page)) seen.push_back(n);
    if (!page->truncated) break;
    BOOST_REQUIRE(!page->entries.empty());
    q.start_after = page->entries.back().name;
    BOOST_REQUIRE(pages < 10);
  }
  want.push_back("pz/../x");
  BOOST_TEST(seen == want, boost::test_tools::per_element());
  BOOST_TEST(pages == 3);

  // start_after before the prefix, inside it, and past it.
  BOOST_TEST(names(*s->list_blobs("c", {"p", "a", 2})) == (std::vector<std::string>{"p00", "p01"}));
  BOOST_TEST(names(*s->list_blobs("c", {"p", "p23", 0})) ==
             (std::vector<std::string>{"p24", "pz/../x"}));
  BOOST_TEST(s->list_blobs("c", {"p", "pz/../x", 0})->entries.empty());
  // A page that ends exactly at the last name says so.
  auto exact = s->list_blobs("c", {"p2", "", 5});
  BOOST_TEST(exact->entries.size() == 5u);
  BOOST_TEST(!exact->truncated);
  // Bytewise: upper case before lower case before UTF-8.
  BOOST_REQUIRE(s->create_container("d").ok());
  for (const char* n : {"\xc3\xa9", "a", "B"}) BOOST_REQUIRE(s->put("d", n, {}).ok());
  BOOST_TEST(names(*s->list_blobs("d", {})) == (std::vector<std::string>{"B", "a", "\xc3\xa9"}));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(containers_list_with_blob_counts_and_refuse_deletion_until_empty,
                              Kind, Kinds) {
  Kind kind;
  auto s = kind.make();
  BOOST_REQUIRE(s->create_container("b-two").ok());
  BOOST_REQUIRE(s->create_container("a-one").ok());
  BOOST_TEST(code_of(s->create_container("a-one")) == ErrorCode::kAlreadyExists);
  BOOST_REQUIRE(s->put("b-two", "x", pattern(3)).ok());
  BOOST_REQUIRE(s->put("b-two", "y", pattern(4)).ok());
  auto all = s->list_containers({});
  BOOST_REQUIRE(all.ok());
  BOOST_REQUIRE_EQUAL(all->entries.size(), 2u);
  BOOST_TEST((all->entries[0] == bs::BlobInfo{"a-one", 0, 0}));
  BOOST_TEST((all->entries[1] == bs::BlobInfo{"b-two", 2, 0}));
  BOOST_TEST(names(*s->list_containers({"b", "", 0})) == std::vector<std::string>{"b-two"});

  BOOST_TEST(code_of(s->delete_container("b-two")) == ErrorCode::kNotEmpty);
  BOOST_TEST(s->stat("b-two", "x").ok());  // nothing was removed
  BOOST_REQUIRE(s->delete_blob("b-two", "x").ok());
  BOOST_REQUIRE(s->delete_blob("b-two", "y").ok());
  BOOST_REQUIRE(s->delete_container("b-two").ok());
  BOOST_TEST(code_of(s->delete_container("b-two")) == ErrorCode::kNotFound);
  BOOST_TEST(code_of(s->put("b-two", "x", {})) == ErrorCode::kNotFound);
  BOOST_TEST(code_of(s->list_blobs("b-two", {})) == ErrorCode::kNotFound);
  BOOST_TEST(code_of(s->stat("a-one", "x")) == ErrorCode::kNotFound);
  BOOST_TEST(code_of(s->delete_blob("a-one", "x")) == ErrorCode::kNotFound);
  BOOST_TEST(s->object_count() == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(capacity_and_object_limits_refuse_growth_with_no_space, Kind,
                              Kinds) {
  Kind kind;
  auto s = kind.make(bs::Limits{10000, 4});
  BOOST_REQUIRE(s->create_container("c").ok());
  BOOST_REQUIRE(s->put("c", "big", pattern(6000)).ok());
  BOOST_TEST(code_of(s->put("c", "more", pattern(4001))) == ErrorCode::kNoSpace);
  BOOST_TEST(code_of(s->stat("c", "more")) == ErrorCode::kNotFound);  // nothing half-made
  BOOST_REQUIRE(s->put("c", "more", pattern(4000)).ok());             // exactly full
  BOOST_TEST(s->used_bytes() == 10000u);
  // A replacement counts the old size as freed: shrinking always works,
  // growing only into what is free.
  BOOST_TEST(code_of(s->put("c", "big", pattern(6001))) == ErrorCode::kNoSpace);
  BOOST_TEST((get_all(*s, "c", "big") == pattern(6000)));  // the old bytes stand
  BOOST_TEST(s->stat("c", "big")->generation == 1u);
  BOOST_REQUIRE(s->put("c", "big", pattern(100)).ok());
  BOOST_REQUIRE(s->put("c", "more", pattern(9900)).ok());
  // Objects: the container and two blobs, one more allowed.
  BOOST_REQUIRE(s->put("c", "empty", {}).ok());
  BOOST_TEST(code_of(s->put("c", "one-too-many", {})) == ErrorCode::kNoSpace);
  BOOST_TEST(code_of(s->create_container("d")) == ErrorCode::kNoSpace);
  BOOST_REQUIRE(s->delete_blob("c", "more").ok());
  BOOST_TEST(s->used_bytes() == 100u);
  BOOST_REQUIRE(s->create_container("d").ok());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_operation_validates_names_first, Kind, Kinds) {
  Kind kind;
  auto s = kind.make();
  BOOST_REQUIRE(s->create_container("c").ok());
  using namespace std::string_literals;
  std::vector<std::byte> out(16);
  for (const std::string& bad_container : {""s, "C"s, "../c"s, "c/d"s, std::string(64, 'c')}) {
    BOOST_TEST(code_of(s->create_container(bad_container)) == ErrorCode::kInvalidArgument);
    BOOST_TEST(code_of(s->delete_container(bad_container)) == ErrorCode::kInvalidArgument);
    BOOST_TEST(code_of(s->put(bad_container, "b", {})) == ErrorCode::kInvalidArgument);
    BOOST_TEST(code_of(s->list_blobs(bad_container, {})) == ErrorCode::kInvalidArgument);
  }
  for (const std::string& bad_blob : {""s, "/abs"s, "a\0b"s, "\xff"s, std::string(1025, 'b')}) {
    BOOST_TEST(code_of(s->put("c", bad_blob, pattern(1))) == ErrorCode::kInvalidArgument);
    BOOST_TEST(code_of(s->get("c", bad_blob, {}, out)) == ErrorCode::kInvalidArgument);
    BOOST_TEST(code_of(s->stat("c", bad_blob)) == ErrorCode::kInvalidArgument);
    BOOST_TEST(code_of(s->delete_blob("c", bad_blob)) == ErrorCode::kInvalidArgument);
  }
  BOOST_TEST(s->list_blobs("c", {})->entries.empty());
  BOOST_TEST(s->object_count() == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(clear_empties_the_store, Kind, Kinds) {
  Kind kind;
  auto s = kind.make();
  for (const char* c : {"a", "b", "c"}) {
    BOOST_REQUIRE(s->create_container(c).ok());
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE(s->put(c, "blob" + std::to_string(i), pattern(100, 1)).ok());
  }
  BOOST_REQUIRE(s->clear().ok());
  BOOST_TEST(s->used_bytes() == 0u);
  BOOST_TEST(s->object_count() == 0u);
  BOOST_TEST(names(*s->list_containers({})).empty());
  BOOST_TEST(s->create_container("a").ok());  // the names are free again
  BOOST_TEST(s->clear().ok());                // and clearing twice is fine
}
