// Request accounting over hand-written traces: each finding kind, and that a
// clean conversation gives none.
#define BOOST_TEST_MODULE request_accounting
#include "vscsim/checkers/request_accounting.h"

#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <string>

namespace vc = vscsim::checkers;

namespace {

std::string ev(const char* kind, unsigned relid, unsigned type, unsigned flags, unsigned long long id) {
  return fmt::format(R"({{"t_ns":1,"kind":"{}","relid":{},"type":{},"type_name":"x","flags":{},"trans_id":{},"length":8}})"
                     "\n",
                     kind, relid, type, flags, id);
}
std::string request(unsigned relid, unsigned long long id) { return ev("guest_packet", relid, 9, 1, id); }
std::string completion(unsigned relid, unsigned long long id) { return ev("host_packet", relid, 11, 0, id); }
std::string offer(unsigned relid) { return ev("host_message", relid, 1, 0, 0); }
std::string rescind(unsigned relid) { return ev("host_message", relid, 2, 0, 0); }
std::string dropped(unsigned relid, unsigned long long id) {
  return fmt::format(R"({{"t_ns":1,"kind":"host_fault","relid":{},"type":1,"type_name":"drop_completion",)"
                     R"("flags":0,"trans_id":{},"length":0,"fault":"drop_completion"}})"
                     "\n",
                     relid, id);
}
std::string fault(const char* name, unsigned relid, unsigned long long id, unsigned long long arg) {
  return fmt::format(R"({{"t_ns":1,"kind":"host_fault","relid":{},"type":1,"type_name":"{}",)"
                     R"("flags":0,"trans_id":{},"length":0,"fault":"{}","arg":{}}})"
                     "\n",
                     relid, name, id, name, arg);
}
const std::string kEnd = "{\"end\":true,\"events\":0,\"dropped\":0}\n";

vc::AccountingReport account(const std::string& trace, const std::set<std::uint32_t>& relids = {}) {
  auto r = vc::account_requests(trace, relids);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error()));
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_clean_conversation_reuses_ids_only_after_their_completion) {
  const auto r = account(offer(2) + request(2, 1) + request(2, 2) + completion(2, 2) + request(2, 2) +
                         completion(2, 1) + completion(2, 2) + kEnd);
  BOOST_TEST(r.requests == 3u);
  BOOST_TEST(r.completions == 3u);
  BOOST_TEST(r.unanswered == 0u);
  BOOST_TEST(r.guest_clean());
  BOOST_TEST(r.findings.empty());
}

BOOST_AUTO_TEST_CASE(each_kind_of_finding_is_counted) {
  const auto r = account(offer(2) + request(2, 5) + request(2, 5) +  // duplicate
                         completion(2, 9) +                            // stray
                         request(2, 6) + rescind(2) +                  // 5, 6 open at rescind
                         request(2, 7) +                               // after rescind
                         offer(2) + request(2, 8) + kEnd);             // reoffer: 8 unanswered
  BOOST_TEST(r.duplicate_ids == 1u);
  BOOST_TEST(r.stray_completions == 1u);
  BOOST_TEST(r.unanswered_at_rescind == 2u);
  BOOST_TEST(r.sent_after_rescind == 1u);
  BOOST_TEST(r.unanswered == 1u);
  BOOST_TEST(!r.guest_clean());
  BOOST_TEST(r.summary().find("duplicate_ids=1") != std::string::npos, r.summary());
  BOOST_REQUIRE(!r.findings.empty());
  BOOST_TEST(r.findings[0].find("duplicate id") == 0u, r.findings[0]);
}

BOOST_AUTO_TEST_CASE(packets_without_a_completion_request_or_id_are_not_requests) {
  const auto r = account(ev("guest_packet", 1, 6, 0, 3) + ev("guest_packet", 1, 9, 1, 0) + kEnd);
  BOOST_TEST(r.requests == 0u);
  BOOST_TEST(r.unanswered == 0u);
}

BOOST_AUTO_TEST_CASE(channels_can_be_left_out_and_bad_traces_are_errors) {
  const auto r = account(request(1, 4) + request(2, 4) + completion(2, 4) + kEnd, {2});
  BOOST_TEST(r.requests == 1u);
  BOOST_TEST(r.unanswered == 0u);
  const auto truncated = account(request(2, 1) + "{\"end\":true,\"events\":1,\"dropped\":4}\n");
  BOOST_TEST(truncated.truncated);
  BOOST_TEST(!vc::account_requests(request(2, 1)).ok());  // no end line
  const auto bad = vc::account_requests("{\"kind\":\"guest_packet\"}\n" + kEnd);
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().find("trace line 1") == 0u, bad.error());
  BOOST_TEST(!vc::account_requests("not json\n" + kEnd).ok());
}

BOOST_AUTO_TEST_CASE(an_answer_the_host_dropped_on_purpose_is_not_unanswered) {
  const auto r = account(offer(2) + request(2, 1) + request(2, 2) + dropped(2, 1) + completion(2, 2) +
                         request(2, 1) + completion(2, 1) +  // the dropped id may be reused
                         dropped(2, 9) + kEnd);              // a drop of no open id: noted
  BOOST_TEST(r.requests == 3u);
  BOOST_TEST(r.completions == 2u);
  BOOST_TEST(r.dropped_by_host == 1u);
  BOOST_TEST(r.unanswered == 0u);
  BOOST_TEST(r.duplicate_ids == 0u);
  BOOST_TEST(r.stray_completions == 0u);
  BOOST_TEST(r.guest_clean());
  BOOST_TEST(r.summary().find("dropped_by_host=1") != std::string::npos, r.summary());
  BOOST_REQUIRE_EQUAL(r.findings.size(), 1u);
  BOOST_TEST(r.findings[0].find("stray drop") == 0u, r.findings[0]);
}

BOOST_AUTO_TEST_CASE(completions_a_host_fault_announced_are_not_stray) {
  // duplicate: the second answer for id 1 is the host's doing.
  // wrong_id: request 2 is answered under id 77 instead; 2 stays the host's.
  const auto r = account(offer(1) + request(1, 1) + fault("duplicate_completion", 1, 1, 1) + completion(1, 1) +
                         completion(1, 1) + request(1, 2) + fault("wrong_id", 1, 2, 77) + completion(1, 77) +
                         fault("truncate_completion", 1, 3, 4) +  // informational only
                         completion(1, 5) + kEnd);                // nobody announced this one
  BOOST_TEST(r.requests == 2u);
  BOOST_TEST(r.completions == 4u);
  BOOST_TEST(r.announced_completions == 2u);
  BOOST_TEST(r.dropped_by_host == 1u);
  BOOST_TEST(r.unanswered == 0u);
  BOOST_TEST(r.stray_completions == 1u);
  BOOST_TEST(r.guest_clean());
}
