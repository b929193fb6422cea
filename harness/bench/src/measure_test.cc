#define BOOST_TEST_MODULE bench_measure
#include "vscsim/bench/measure.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>

using namespace vscsim::bench;

BOOST_AUTO_TEST_CASE(proc_fields_are_counted_after_the_command_name) {
  // A command name with spaces and parentheses must not shift the fields.
  const std::string stat =
      "4242 (vsp sim) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 100 1000 50";
  const std::string status = "Name:\tvsp-sim\nVmRSS:\t   12345 kB\nRssAnon:\t    2048 kB\nRssFile:\t 100 kB\n"
                             "RssShmem:\t   10240 kB\nThreads:\t3\n";
  const auto s = parse_proc(stat, status, 100);
  BOOST_TEST_REQUIRE(s.ok(), (s.ok() ? "" : s.error()));
  BOOST_TEST(s->cpu_seconds == 4.0);  // (250 + 150) ticks at 100 per second
  BOOST_TEST(s->rss_kib == 12345u);
  BOOST_TEST(s->rss_anon_kib == 2048u);
  BOOST_TEST(s->rss_shmem_kib == 10240u);
  BOOST_TEST(!parse_proc("4242 vsp-sim S 1", status, 100).ok());
  BOOST_TEST(!parse_proc("4242 (vsp-sim) S 1 2 3", status, 100).ok());
}

BOOST_AUTO_TEST_CASE(this_process_cpu_time_grows_while_it_spins) {
  const auto before = sample_process(::getpid());
  BOOST_TEST_REQUIRE(before.ok(), (before.ok() ? "" : before.error()));
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile unsigned long x = 0;
  while (std::chrono::steady_clock::now() < until) x = x + 1;
  const auto after = sample_process(::getpid());
  BOOST_TEST_REQUIRE(after.ok());
  BOOST_TEST(after->cpu_seconds - before->cpu_seconds >= 0.1);
  BOOST_TEST(after->rss_kib > 0u);
  BOOST_TEST(!sample_process(-1).ok());
}

BOOST_AUTO_TEST_CASE(spread_takes_the_middle) {
  const Spread odd = spread({5, 1, 3, 2, 4});
  BOOST_TEST(odd.median == 3);
  BOOST_TEST(odd.min == 1);
  BOOST_TEST(odd.max == 5);
  BOOST_TEST(spread({4, 1, 3, 2}).median == 2.5);
  BOOST_TEST(spread({}).median == 0);
}

BOOST_AUTO_TEST_CASE(bench_argv_names_the_transport_and_the_endpoint_only_for_http) {
  GuestCase c;
  c.op = "get";
  c.size = 4096;
  c.threads = 4;
  c.seconds = 2.5;
  const auto vmbus = azblob_bench_argv(c, "/sbin/azblob");
  BOOST_TEST(vmbus == (std::vector<std::string>{"/sbin/azblob", "bench", "--transport", "vmbus", "--op", "get",
                                                "--size", "4096", "--threads", "4", "--seconds", "2.5",
                                                "--container", "bench"}),
             boost::test_tools::per_element());
  c.transport = Transport::kHttp;
  c.http_endpoint = "10.0.2.2:8080";
  const auto http = azblob_bench_argv(c, "/sbin/azblob");
  BOOST_TEST(http[3] == "http");
  BOOST_TEST(http.back() == "10.0.2.2:8080");
}

BOOST_AUTO_TEST_CASE(guest_result_is_the_last_json_line_and_every_field_is_required) {
  const std::string line =
      R"({"transport":"vmbus","op":"put","size":4096,"threads":4,"ops":1000,"errors":0,"seconds":2.0,)"
      R"("ops_per_s":500.0,"mib_per_s":1.95,"p50_us":700.5,"p99_us":2000,"max_us":3000})";
  const auto r = parse_guest_result("bench: warming up\n" + line + "\n");
  BOOST_TEST_REQUIRE(r.ok(), (r.ok() ? "" : r.error()));
  BOOST_TEST(r->transport == "vmbus");
  BOOST_TEST(r->threads == 4u);
  BOOST_TEST(r->ops == 1000u);
  BOOST_TEST(r->p50_us == 700.5);
  const auto missing = parse_guest_result(R"({"transport":"vmbus"})");
  BOOST_TEST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().find("op") != std::string::npos, missing.error());
  BOOST_TEST(!parse_guest_result("not json").ok());
  BOOST_TEST(!parse_guest_result("").ok());
}
