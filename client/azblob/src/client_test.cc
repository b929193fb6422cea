#define BOOST_TEST_MODULE azblob_client
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include "fake_host.h"
#include "vscsim/azblob/client.h"

namespace vscsim::azblob {
namespace {

using namespace std::chrono_literals;
using testing::Answer;
using testing::FakeDevice;
using testing::SeenCall;

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string text_of(const std::vector<std::byte>& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

blob::BlobInfo info(const std::string& name, std::uint64_t size, std::uint64_t generation = 1) {
  blob::BlobInfo i;
  i.set_name(name);
  i.set_size(size);
  i.set_generation(generation);
  return i;
}

Answer stat_answer(std::uint64_t size, std::uint64_t generation = 1) {
  blob::Response r;
  *r.mutable_stat() = info("b", size, generation);
  return testing::ok(r);
}

// Answers a get from `content` like the host: bytes from the offset, at most
// the asked-for length.
Answer get_answer(const SeenCall& call, const std::string& content, std::uint64_t generation = 1) {
  const auto& get = call.request.get();
  std::string part = content.substr(get.offset(), get.length() == 0 ? std::string::npos : get.length());
  blob::Response r;
  *r.mutable_get()->mutable_blob() = info("b", content.size(), generation);
  r.mutable_get()->set_offset(get.offset());
  r.mutable_get()->set_length(part.size());
  return testing::ok(r, part);
}

struct Fixture {
  FakeDevice fake;
  Client client{fake.device()};
  std::vector<SeenCall>& calls() { return fake.host->calls; }
};

BOOST_FIXTURE_TEST_CASE(containers_are_created_and_deleted_by_name, Fixture) {
  BOOST_TEST(client.create_container("mybucket").ok());
  BOOST_TEST(client.delete_container("mybucket").ok());
  BOOST_TEST_REQUIRE(calls().size() == 2u);
  BOOST_TEST(calls()[0].request.format_version() == 1u);
  BOOST_TEST(calls()[0].request.create_container().container() == "mybucket");
  BOOST_TEST(calls()[1].request.delete_container().container() == "mybucket");
  BOOST_TEST(calls()[0].sync.timeout == 30000u);  // the client's default
  BOOST_TEST(calls()[0].sync.response_len == 64u * 1024u);
  BOOST_TEST(calls()[0].sync.data_len == 0u);
}

BOOST_FIXTURE_TEST_CASE(put_sends_the_blob_as_valid_data, Fixture) {
  fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    *r.mutable_put()->mutable_blob() = info("a.txt", 5, 3);
    return testing::ok(r);
  };
  std::string data = "hello";
  auto put = client.put("mybucket", "a.txt", bytes_of(data));
  BOOST_TEST_REQUIRE(put.ok());
  BOOST_TEST(put->generation == 3u);
  BOOST_TEST(put->size == 5u);
  const SeenCall& seen = calls().at(0);
  BOOST_TEST(seen.request.put().container() == "mybucket");
  BOOST_TEST(seen.request.put().blob() == "a.txt");
  BOOST_TEST(seen.request.put().length() == 5u);
  BOOST_TEST(seen.sync.data_len == 5u);
  BOOST_TEST(seen.sync.data_valid == 5u);
  BOOST_TEST(seen.data_in == "hello");
}

BOOST_FIXTURE_TEST_CASE(an_empty_put_sends_no_data_buffer, Fixture) {
  fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    *r.mutable_put()->mutable_blob() = info("e", 0);
    return testing::ok(r);
  };
  BOOST_TEST(client.put("c", "e", {}).ok());
  BOOST_TEST(calls().at(0).sync.data_buffer == 0u);
  BOOST_TEST(calls().at(0).request.put().length() == 0u);
}

BOOST_AUTO_TEST_CASE(one_request_carries_the_page_limit_less_request_and_response_pages) {
  // 8192 pages less 2 for the request, 17 for a 64 KiB response (it may start
  // mid-page) and 1 for the data buffer's own misalignment.
  BOOST_TEST(max_data_bytes(64 * 1024) == (8192u - 2 - 17 - 1) * 4096);
  BOOST_TEST(max_data_bytes(8192u * 4096) == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_put_over_one_request_is_refused_before_sending, Fixture) {
  std::vector<std::byte> big(client.max_data_bytes() + 1);
  auto put = client.put("c", "big", big);
  BOOST_TEST_REQUIRE(!put.ok());
  BOOST_TEST((put.error().kind == ErrorKind::kLimit));
  BOOST_TEST(put.error().message == "put c/big: the blob is 33472513 bytes; one request carries at most 33472512 "
                                    "(the driver's 8192-page limit)");
  BOOST_TEST(calls().empty());
}

BOOST_FIXTURE_TEST_CASE(get_without_length_stats_then_reads_exactly_the_rest, Fixture) {
  const std::string content = "0123456789";
  fake.host->handler = [&](const SeenCall& call) {
    return call.request.has_stat() ? stat_answer(content.size()) : get_answer(call, content);
  };
  auto got = client.get("c", "b", 3);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(text_of(got->bytes) == "3456789");
  BOOST_TEST_REQUIRE(calls().size() == 2u);
  BOOST_TEST(calls()[0].request.stat().blob() == "b");
  BOOST_TEST(calls()[1].request.get().offset() == 3u);
  BOOST_TEST(calls()[1].request.get().length() == 7u);
  BOOST_TEST(calls()[1].sync.data_len == 7u);
  BOOST_TEST(calls()[1].sync.data_valid == 0u);
}

BOOST_FIXTURE_TEST_CASE(get_with_a_length_sizes_the_buffer_to_it_without_a_stat, Fixture) {
  const std::string content = "0123456789";
  fake.host->handler = [&](const SeenCall& call) { return get_answer(call, content); };
  auto got = client.get("c", "b", 8, 5);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(text_of(got->bytes) == "89");  // fewer at the end of the blob
  BOOST_TEST_REQUIRE(calls().size() == 1u);
  BOOST_TEST(calls()[0].sync.data_len == 5u);
  BOOST_TEST(got->info.size == 10u);
}

BOOST_FIXTURE_TEST_CASE(an_empty_blob_is_read_with_a_stat_alone, Fixture) {
  fake.host->handler = [](const SeenCall&) { return stat_answer(0); };
  auto got = client.get("c", "b");
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(got->bytes.empty());
  BOOST_TEST(calls().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_zero_length_get_only_checks_blob_and_offset, Fixture) {
  fake.host->handler = [](const SeenCall&) { return stat_answer(4, 9); };
  auto got = client.get("c", "b", 4, 0);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(got->bytes.empty());
  BOOST_TEST(got->info.generation == 9u);
  BOOST_TEST(calls().size() == 1u);
  BOOST_TEST(!client.get("c", "b", 5, 0).ok());
}

BOOST_AUTO_TEST_CASE(a_long_get_takes_several_requests) {
  FakeDevice fake;
  Client client(fake.device(), ClientOptions{.max_request_data = 4});
  const std::string content = "abcdefghij";
  fake.host->handler = [&](const SeenCall& call) {
    return call.request.has_stat() ? stat_answer(content.size()) : get_answer(call, content);
  };
  auto got = client.get("c", "b");
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(text_of(got->bytes) == content);
  BOOST_TEST_REQUIRE(fake.host->calls.size() == 4u);  // stat + 4 + 4 + 2
  BOOST_TEST(fake.host->calls[3].request.get().offset() == 8u);
  BOOST_TEST(fake.host->calls[3].request.get().length() == 2u);
}

BOOST_AUTO_TEST_CASE(a_blob_that_changes_between_requests_fails_the_get) {
  FakeDevice fake;
  Client client(fake.device(), ClientOptions{.max_request_data = 4});
  const std::string content = "abcdefghij";
  int gets = 0;
  fake.host->handler = [&](const SeenCall& call) {
    if (call.request.has_stat()) return stat_answer(content.size(), 7);
    return get_answer(call, content, ++gets == 1 ? 7 : 8);
  };
  auto got = client.get("c", "b");
  BOOST_TEST_REQUIRE(!got.ok());
  BOOST_TEST((got.error().kind == ErrorKind::kChanged));
  BOOST_TEST(got.error().message == "get c/b: the blob changed while being read (generation 7, then 8); try again");
}

BOOST_FIXTURE_TEST_CASE(an_offset_past_the_end_is_out_of_range, Fixture) {
  fake.host->handler = [](const SeenCall&) { return stat_answer(4); };
  auto got = client.get("c", "b", 5);
  BOOST_TEST_REQUIRE(!got.ok());
  BOOST_TEST(got.error().status == blob::OUT_OF_RANGE);
  BOOST_TEST(got.error().message == "get c/b: offset 5 is past the end of the blob (4 bytes) (OUT_OF_RANGE)");
}

BOOST_FIXTURE_TEST_CASE(a_host_claiming_more_bytes_than_the_buffer_is_malformed, Fixture) {
  fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    r.mutable_get()->set_length(100);
    return testing::ok(r);
  };
  auto got = client.get("c", "b", 0, 10);
  BOOST_TEST_REQUIRE(!got.ok());
  BOOST_TEST((got.error().kind == ErrorKind::kMalformed));
  BOOST_TEST(got.error().message == "get c/b: the host claims 100 bytes in a 10-byte data buffer");
}

BOOST_FIXTURE_TEST_CASE(list_follows_truncated_pages_with_start_after, Fixture) {
  const std::vector<std::vector<std::string>> pages = {{"a", "b"}, {"c"}, {"d", "e"}};
  fake.host->handler = [&](const SeenCall& call) {
    std::size_t page = call.request.list().start_after().empty() ? 0 : call.request.list().start_after() == "b" ? 1 : 2;
    blob::Response r;
    for (const auto& name : pages[page]) *r.mutable_list()->add_entries() = info(name, name.size());
    r.mutable_list()->set_truncated(page + 1 < pages.size());
    return testing::ok(r);
  };
  auto names = client.list("c", "p");
  BOOST_TEST_REQUIRE(names.ok());
  std::vector<std::string> got;
  for (const auto& e : *names) got.push_back(e.name);
  BOOST_TEST(got == (std::vector<std::string>{"a", "b", "c", "d", "e"}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(calls().size() == 3u);
  BOOST_TEST(calls()[1].request.list().start_after() == "b");
  BOOST_TEST(calls()[2].request.list().start_after() == "c");
  BOOST_TEST(calls()[2].request.list().prefix() == "p");
  BOOST_TEST(calls()[2].request.list().container() == "c");
}

BOOST_FIXTURE_TEST_CASE(list_without_a_container_lists_containers, Fixture) {
  fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    *r.mutable_list()->add_entries() = info("mybucket", 3);
    return testing::ok(r);
  };
  auto containers = client.list();
  BOOST_TEST_REQUIRE(containers.ok());
  BOOST_TEST(containers->at(0).name == "mybucket");
  BOOST_TEST(containers->at(0).size == 3u);
  BOOST_TEST(calls().at(0).request.list().container().empty());
}

BOOST_FIXTURE_TEST_CASE(a_list_that_never_progresses_is_malformed, Fixture) {
  fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    r.mutable_list()->set_truncated(true);
    return testing::ok(r);
  };
  auto names = client.list("c");
  BOOST_TEST_REQUIRE(!names.ok());
  BOOST_TEST(names.error().message == "list c: the host says more names follow but sent none");

  fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    *r.mutable_list()->add_entries() = info("b", 1);
    *r.mutable_list()->add_entries() = info("a", 1);
    return testing::ok(r);
  };
  names = client.list("c");
  BOOST_TEST_REQUIRE(!names.ok());
  BOOST_TEST(names.error().message == "list c: the host's names are out of order ('b' before 'a')");
}

BOOST_FIXTURE_TEST_CASE(stat_and_remove_name_the_blob, Fixture) {
  fake.host->handler = [](const SeenCall& call) { return call.request.has_stat() ? stat_answer(42, 2) : testing::ok(); };
  auto st = client.stat("c", "dir/b");
  BOOST_TEST_REQUIRE(st.ok());
  BOOST_TEST(st->size == 42u);
  BOOST_TEST(st->generation == 2u);
  BOOST_TEST(client.remove("c", "dir/b").ok());
  BOOST_TEST(calls().at(1).request.delete_().container() == "c");
  BOOST_TEST(calls().at(1).request.delete_().blob() == "dir/b");
}

BOOST_FIXTURE_TEST_CASE(every_status_names_the_operation_and_the_status, Fixture) {
  const std::vector<std::pair<blob::Status, std::string>> cases = {
      {blob::NOT_FOUND, "put mybucket/a.txt: not found (NOT_FOUND)"},
      {blob::ALREADY_EXISTS, "put mybucket/a.txt: already exists (ALREADY_EXISTS)"},
      {blob::INVALID_ARGUMENT, "put mybucket/a.txt: the host rejected an argument (INVALID_ARGUMENT)"},
      {blob::NOT_EMPTY, "put mybucket/a.txt: the container is not empty (NOT_EMPTY)"},
      {blob::OUT_OF_RANGE, "put mybucket/a.txt: the offset is past the end of the blob (OUT_OF_RANGE)"},
      {blob::BUFFER_TOO_SMALL, "put mybucket/a.txt: the data buffer cannot hold the asked-for bytes (BUFFER_TOO_SMALL)"},
      {blob::UNSUPPORTED_VERSION,
       "put mybucket/a.txt: the host does not speak payload format version 1 (UNSUPPORTED_VERSION)"},
      {blob::NO_SPACE, "put mybucket/a.txt: the blob store is full (NO_SPACE)"},
      {blob::INTERNAL, "put mybucket/a.txt: the host's store failed (INTERNAL)"},
      {blob::STATUS_UNSPECIFIED, "put mybucket/a.txt: the host's answer has no status (STATUS_UNSPECIFIED)"},
      {static_cast<blob::Status>(99), "put mybucket/a.txt: the host answered with an unknown status 99"},
  };
  std::string data = "x";
  for (const auto& c : cases) {
    fake.host->handler = [&](const SeenCall&) { return testing::status(c.first); };
    auto put = client.put("mybucket", "a.txt", bytes_of(data));
    BOOST_TEST_REQUIRE(!put.ok());
    BOOST_TEST(put.error().message == c.second);
    BOOST_TEST(put.error().status == c.first);
    BOOST_TEST((put.error().kind == ErrorKind::kStatus));
  }
}

BOOST_FIXTURE_TEST_CASE(the_hosts_own_words_follow_made_printable, Fixture) {
  fake.host->handler = [](const SeenCall&) { return testing::status(blob::NOT_FOUND, "no container\n'c'"); };
  auto st = client.stat("c", "b");
  BOOST_TEST_REQUIRE(!st.ok());
  BOOST_TEST(st.error().message == "stat c/b: not found (NOT_FOUND); the host says: no container?'c'");
}

BOOST_FIXTURE_TEST_CASE(device_errors_carry_the_operation, Fixture) {
  fake.host->handler = [](const SeenCall&) { return Answer{.err = ETIMEDOUT}; };
  auto done = client.create_container("c");
  BOOST_TEST_REQUIRE(!done.ok());
  BOOST_TEST(done.error().message == "create container c: timed out after 30000 ms: the host did not answer (ETIMEDOUT)");

  fake.host->handler = [](const SeenCall&) {
    Answer a;
    a.wire_status = 4;
    return a;
  };
  auto gone = client.remove("c", "b");
  BOOST_TEST_REQUIRE(!gone.ok());
  BOOST_TEST(gone.error().message == "remove c/b: the host's store failed (wire status 4)");
}

BOOST_FIXTURE_TEST_CASE(answers_that_do_not_decode_or_fit_are_malformed, Fixture) {
  fake.host->handler = [](const SeenCall&) {
    Answer a;
    a.raw = std::string("\xff\xff\xff", 3);
    return a;
  };
  auto r = client.stat("c", "b");
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message == "stat c/b: the host's response (3 bytes) does not decode as a vscsim.blob.Response");

  fake.host->handler = [](const SeenCall&) {
    Answer a = stat_answer(1);
    a.response.set_format_version(2);
    return a;
  };
  r = client.stat("c", "b");
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message == "stat c/b: the host answered in payload format version 2, not 1");

  fake.host->handler = [](const SeenCall&) { return testing::ok(); };
  r = client.stat("c", "b");
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == ErrorKind::kMalformed));
  BOOST_TEST(r.error().message == "stat c/b: the host's answer carries no blob information");
}

BOOST_AUTO_TEST_CASE(options_reach_the_ioctl) {
  FakeDevice fake;
  Client client(fake.device(), ClientOptions{.timeout = 0ms, .response_capacity = 512});
  BOOST_TEST(client.create_container("c").ok());
  BOOST_TEST(fake.host->calls.at(0).sync.timeout == 0u);
  BOOST_TEST(fake.host->calls.at(0).sync.response_len == 512u);
}

}  // namespace
}  // namespace vscsim::azblob
