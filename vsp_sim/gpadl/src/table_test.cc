#include <boost/test/unit_test.hpp>

#include "vscsim/gpadl/encode.h"
#include "vscsim/gpadl/table.h"

namespace vscsim::gpadl {
namespace {

using memory::kPageSize;
using memory::Pfn;

memory::MemoryLayout layout() {
  return memory::MemoryLayout::split(64 * kPageSize, 64 * kPageSize).value();
}
std::vector<Pfn> pages(std::size_t n) {
  std::vector<Pfn> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(Pfn(1 + i));
  return v;
}

// Feeds every message; returns the last progress.
Result<Progress, Error> feed(Table& t, const std::vector<Message>& msgs) {
  auto p = t.on_header(msgs.at(0), layout());
  for (std::size_t i = 1; p.ok() && i < msgs.size(); ++i) p = t.on_body(msgs[i], layout());
  return p;
}

BOOST_AUTO_TEST_SUITE(gpadl_table)

BOOST_AUTO_TEST_CASE(table_reports_assembling_then_ready) {
  Table t;
  const auto msgs = encode_gpadl_pages(1, 10, pages(40));
  auto p = t.on_header(msgs[0], layout());
  BOOST_REQUIRE(p.ok());
  BOOST_TEST(!p->complete);
  BOOST_TEST((t.state(10) == State::kAssembling));
  BOOST_TEST(t.find_ready(10) == nullptr);
  p = t.on_body(msgs[1], layout());
  BOOST_REQUIRE(p.ok());
  BOOST_TEST(p->complete);
  BOOST_TEST((t.state(10) == State::kReady));
  BOOST_REQUIRE(t.find_ready(10) != nullptr);
  BOOST_TEST(t.find_ready(10)->page_count() == 40u);
}

BOOST_AUTO_TEST_CASE(duplicate_handle_is_rejected_and_the_first_survives) {
  Table t;
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 10, pages(4))).ok());
  auto p = t.on_header(encode_gpadl_pages(1, 10, pages(2))[0], layout());
  BOOST_REQUIRE(!p.ok());
  BOOST_TEST(p.error().kind == ErrorKind::kHandleInUse);
  BOOST_TEST(t.find_ready(10)->page_count() == 4u);
}

BOOST_AUTO_TEST_CASE(body_for_unknown_gpadl_is_rejected) {
  Table t;
  const auto msgs = encode_gpadl_pages(1, 10, pages(40));
  auto p = t.on_body(msgs[1], layout());
  BOOST_REQUIRE(!p.ok());
  BOOST_TEST(p.error().kind == ErrorKind::kUnknownGpadl);
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_CASE(body_for_complete_gpadl_is_rejected_and_keeps_it) {
  Table t;
  const auto msgs = encode_gpadl_pages(1, 10, pages(40));
  BOOST_REQUIRE(feed(t, msgs).ok());
  auto p = t.on_body(msgs[1], layout());
  BOOST_REQUIRE(!p.ok());
  BOOST_TEST(p.error().kind == ErrorKind::kGpadlAlreadyComplete);
  BOOST_TEST(t.find_ready(10) != nullptr);
}

BOOST_AUTO_TEST_CASE(bad_body_discards_the_half_built_gpadl) {
  Table t;
  auto p = pages(40);
  p[35] = Pfn(1000);
  auto r = feed(t, encode_gpadl_pages(1, 10, p));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ErrorKind::kPfnNotRam);
  BOOST_TEST(!t.contains(10));
  // The handle is free again.
  BOOST_TEST(feed(t, encode_gpadl_pages(1, 10, pages(40))).ok());
}

BOOST_AUTO_TEST_CASE(table_full_is_rejected) {
  Limits l;
  l.max_gpadls = 2;
  Table t(l);
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 1, pages(1))).ok());
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 2, pages(1))).ok());
  auto r = feed(t, encode_gpadl_pages(1, 3, pages(1)));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ErrorKind::kTableFull);
}

BOOST_AUTO_TEST_CASE(teardown_of_unused_gpadl_completes_at_once) {
  Table t;
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 10, pages(4))).ok());
  auto r = t.teardown(10);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((*r == TeardownOutcome::kDone));
  BOOST_TEST(!t.contains(10));
  r = t.teardown(10);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ErrorKind::kUnknownGpadl);
}

BOOST_AUTO_TEST_CASE(teardown_of_gpadl_in_use_waits_for_the_last_release) {
  Table t;
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 10, pages(4))).ok());
  BOOST_REQUIRE(t.acquire(10).ok());
  auto r = t.teardown(10);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((*r == TeardownOutcome::kDeferred));
  BOOST_TEST((t.state(10) == State::kTearingDown));
  BOOST_TEST(t.find_ready(10) == nullptr);       // not usable any more
  BOOST_TEST(!t.acquire(10).ok());               // nor acquirable
  BOOST_TEST(t.teardown(10).error().kind == ErrorKind::kAlreadyTearingDown);
  BOOST_TEST(t.release(10));                     // completes the teardown
  BOOST_TEST(!t.contains(10));
}

BOOST_AUTO_TEST_CASE(release_without_teardown_keeps_the_gpadl) {
  Table t;
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 10, pages(4))).ok());
  BOOST_REQUIRE(t.acquire(10).ok());
  BOOST_TEST(!t.release(10));
  BOOST_TEST(t.find_ready(10) != nullptr);
  BOOST_TEST(!t.release(10));  // nothing to release: no underflow
  BOOST_TEST(t.use_count(10) == 0u);
}

BOOST_AUTO_TEST_CASE(teardown_of_assembling_gpadl_removes_it) {
  Table t;
  BOOST_REQUIRE(t.on_header(encode_gpadl_pages(1, 10, pages(40))[0], layout()).ok());
  auto r = t.teardown(10);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((*r == TeardownOutcome::kDone));
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_CASE(clear_drops_every_state) {
  Table t;
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 1, pages(4))).ok());
  BOOST_REQUIRE(t.on_header(encode_gpadl_pages(1, 2, pages(40))[0], layout()).ok());
  BOOST_REQUIRE(feed(t, encode_gpadl_pages(1, 3, pages(4))).ok());
  BOOST_REQUIRE(t.acquire(3).ok());
  BOOST_REQUIRE(t.teardown(3).ok());
  BOOST_TEST(t.clear() == 3u);
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::gpadl
