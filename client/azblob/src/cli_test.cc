#define BOOST_TEST_MODULE azblob_cli
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fake_host.h"
#include "vscsim/azblob/cli.h"

namespace vscsim::azblob {
namespace {

using testing::FakeDevice;
using testing::SeenCall;

// One azblob run against a fake device that answers every request with
// success (and a put with its result).
struct Run {
  FakeDevice fake;
  std::istringstream in;
  std::ostringstream out, err;
  std::vector<std::string> opened;  // device paths the CLI opened

  Run() {
    fake.host->handler = [](const SeenCall& call) {
      blob::Response r;
      if (call.request.has_put()) r.mutable_put()->mutable_blob()->set_size(call.request.put().length());
      return testing::ok(r);
    };
  }

  int operator()(std::vector<std::string> args, const std::string& input = {}) {
    in.str(input);
    args.insert(args.begin(), "azblob");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return run_cli(static_cast<int>(argv.size()), argv.data(), {in, out, err}, [this](const std::string& path) {
      opened.push_back(path);
      return Result<Device>(fake.device());
    });
  }
  std::vector<SeenCall>& calls() { return fake.host->calls; }
};

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_without_opening_the_device) {
  const std::vector<std::vector<std::string>> bad = {
      {},                                   // no command
      {"frobnicate"},                       // unknown command
      {"put", "c/b"},                       // no FILE
      {"put", "nobucket", "-"},             // no '/'
      {"get", "/b"},                        // empty container
      {"stat", "c/"},                       // empty blob
      {"rm"},                               // no target
      {"mkc"},                              // no container
      {"get", "c/b", "--offset", "x"},      // not a number
      {"--timeout", "600001", "mkc", "c"},  // over the driver's maximum
      {"rmc", "c", "extra"},                // one positional too many
      {"ls", "--bogus"},                    // unknown option
  };
  for (const auto& args : bad) {
    Run run;
    BOOST_TEST(run(args) == kExitUsage);
    BOOST_TEST(run.opened.empty());
    BOOST_TEST(!run.err.str().empty());
  }
}

BOOST_AUTO_TEST_CASE(bench_usage_errors_exit_2_without_opening_the_device) {
  const std::vector<std::string> common = {"--op", "put", "--size", "1", "--threads", "1"};
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  const auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "bench");
    return args;
  };
  const auto full = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), common.begin(), common.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return with(head);
  };
  const std::vector<Bad> bad = {
      {{"bench"}, "--transport"},
      {full({"--transport", "tcp"}, {"--count", "1"}), "tcp"},
      {full({"--transport", "http"}, {"--count", "1"}), "--transport http needs --http HOST:PORT"},
      {full({"--transport", "vmbus", "--http", "10.0.2.2:80"}, {"--count", "1"}), "--http goes with --transport http"},
      {full({"--transport", "http", "--http", "10.0.2.2:80", "--device", "/dev/x"}, {"--count", "1"}),
       "--device goes with --transport vmbus"},
      {full({"--transport", "vmbus"}, {}), "give --seconds or --count"},
      {full({"--transport", "vmbus"}, {"--count", "1", "--seconds", "1"}), "excludes"},
      {full({"--transport", "vmbus"}, {"--count", "0"}), "--count"},
      {full({"--transport", "vmbus"}, {"--seconds", "0"}), "--seconds"},
      {full({"--transport", "vmbus"}, {"--seconds", "100000"}), "at most 86400"},
      {with({"--transport", "vmbus", "--op", "delete", "--size", "1", "--threads", "1", "--count", "1"}), "delete"},
      {with({"--transport", "vmbus", "--op", "put", "--size", "x", "--threads", "1", "--count", "1"}), "--size"},
      {with({"--transport", "vmbus", "--op", "put", "--size", "-1", "--threads", "1", "--count", "1"}), "--size"},
      {with({"--transport", "vmbus", "--op", "put", "--size", "1", "--threads", "0", "--count", "1"}), "--threads"},
      {with({"--transport", "vmbus", "--op", "put", "--size", "1", "--threads", "257", "--count", "1"}), "--threads"},
      {with({"--transport", "vmbus", "--op", "put", "--size", "33554432", "--threads", "1", "--count", "1"}),
       "more than one driver request carries"},
      {with({"--transport", "http", "--http", "127.0.0.1:1", "--op", "get", "--size", "67108865", "--threads", "1",
             "--count", "1"}),
       "more than one HTTP body carries"},
      {full({"--transport", "http", "--http", "localhost:8080"}, {"--count", "1"}), "numeric IPv4"},
      {full({"--transport", "http", "--http", "10.0.2.2"}, {"--count", "1"}), "HOST:PORT"},
  };
  for (const Bad& b : bad) {
    std::string line;
    for (const auto& a : b.args) line += a + " ";
    BOOST_TEST_INFO("azblob " << line);
    Run run;
    BOOST_TEST(run(b.args) == kExitUsage);
    BOOST_TEST(run.opened.empty());
    BOOST_TEST(run.out.str().empty());
    BOOST_TEST(run.err.str().find(b.says) != std::string::npos, "stderr: " << run.err.str());
  }
}

BOOST_AUTO_TEST_CASE(bench_takes_the_global_device_and_timeout) {
  Run run;
  run.fake.host->handler = [](const SeenCall& call) {
    if (call.request.has_create_container()) return testing::status(blob::ALREADY_EXISTS);
    blob::Response r;
    r.mutable_put()->mutable_blob()->set_size(call.request.put().length());
    return testing::ok(r);
  };
  BOOST_TEST(run({"--device", "/dev/azure_blob2", "--timeout", "700", "bench", "--transport", "vmbus", "--op", "put",
                  "--size", "10", "--threads", "1", "--count", "3", "--container", "mine"}) == kExitOk);
  BOOST_TEST(run.err.str().empty());
  BOOST_TEST(run.opened == (std::vector<std::string>{"/dev/azure_blob2"}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(run.calls().size() == 4u);  // the container (it exists: fine), then 3 puts
  BOOST_TEST(run.calls()[0].request.create_container().container() == "mine");
  BOOST_TEST(run.calls()[3].request.put().blob() == "bench-put-t0");
  BOOST_TEST(run.calls()[3].sync.timeout == 700u);
  BOOST_TEST(run.out.str().rfind("{\"transport\":\"vmbus\",\"op\":\"put\",\"size\":10,\"threads\":1,\"ops\":3,"
                                 "\"errors\":0,", 0) == 0,
             run.out.str());
}

BOOST_AUTO_TEST_CASE(help_exits_0) {
  Run run;
  BOOST_TEST(run({"--help"}) == kExitOk);
  BOOST_TEST(run.out.str().find("put") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(put_reads_standard_input_and_passes_device_and_timeout) {
  Run run;
  BOOST_TEST(run({"--device", "/dev/azure_blob1", "--timeout", "500", "put", "mybucket/dir/a.txt", "-"}, "data!") ==
             kExitOk);
  BOOST_TEST(run.opened == (std::vector<std::string>{"/dev/azure_blob1"}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(run.calls().size() == 1u);
  BOOST_TEST(run.calls()[0].request.put().container() == "mybucket");
  BOOST_TEST(run.calls()[0].request.put().blob() == "dir/a.txt");
  BOOST_TEST(run.calls()[0].data_in == "data!");
  BOOST_TEST(run.calls()[0].sync.timeout == 500u);
  BOOST_TEST(run.err.str().empty());
}

BOOST_AUTO_TEST_CASE(put_reads_a_file_and_says_when_it_cannot) {
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/azblob_cli_test.in";
  std::ofstream(path, std::ios::binary) << "from a file";
  Run run;
  BOOST_TEST(run({"put", "c/b", path}) == kExitOk);
  BOOST_TEST(run.err.str().empty());
  BOOST_TEST(run.calls().at(0).data_in == "from a file");
  std::remove(path.c_str());

  Run missing;
  BOOST_TEST(missing({"put", "c/b", "/nonexistent/file"}) == kExitFailed);
  BOOST_TEST(missing.err.str() == "azblob: cannot read /nonexistent/file: No such file or directory\n");
}

BOOST_AUTO_TEST_CASE(get_writes_the_range_to_standard_output) {
  Run run;
  run.fake.host->handler = [](const SeenCall& call) {
    blob::Response r;
    r.mutable_get()->set_offset(call.request.get().offset());
    r.mutable_get()->set_length(3);
    return testing::ok(r, "xyz");
  };
  BOOST_TEST(run({"get", "c/b", "--offset", "2", "--length", "3"}) == kExitOk);
  BOOST_TEST(run.out.str() == "xyz");
  BOOST_TEST(run.calls().at(0).request.get().offset() == 2u);
  BOOST_TEST(run.calls().at(0).request.get().length() == 3u);
}

BOOST_AUTO_TEST_CASE(ls_prints_size_and_name_lines) {
  Run run;
  run.fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    auto* e = r.mutable_list()->add_entries();
    e->set_name("a.txt");
    e->set_size(12);
    return testing::ok(r);
  };
  BOOST_TEST(run({"ls", "c", "--prefix", "a"}) == kExitOk);
  BOOST_TEST(run.out.str() == "12\ta.txt\n");
  BOOST_TEST(run.calls().at(0).request.list().prefix() == "a");
}

BOOST_AUTO_TEST_CASE(stat_prints_size_and_generation) {
  Run run;
  run.fake.host->handler = [](const SeenCall&) {
    blob::Response r;
    r.mutable_stat()->set_size(7);
    r.mutable_stat()->set_generation(2);
    return testing::ok(r);
  };
  BOOST_TEST(run({"stat", "c/b"}) == kExitOk);
  BOOST_TEST(run.out.str() == "name\tc/b\nsize\t7\ngeneration\t2\n");
}

BOOST_AUTO_TEST_CASE(container_commands_and_rm_send_their_requests) {
  Run run;
  BOOST_TEST(run({"mkc", "c"}) == kExitOk);
  BOOST_TEST(run({"rm", "c/b"}) == kExitOk);
  BOOST_TEST(run({"rmc", "c"}) == kExitOk);
  BOOST_TEST_REQUIRE(run.calls().size() == 3u);
  BOOST_TEST(run.calls()[0].request.has_create_container());
  BOOST_TEST(run.calls()[1].request.has_delete_());
  BOOST_TEST(run.calls()[2].request.has_delete_container());
}

BOOST_AUTO_TEST_CASE(a_failed_operation_exits_1_with_the_reason) {
  Run run;
  run.fake.host->handler = [](const SeenCall&) { return testing::status(blob::NO_SPACE); };
  BOOST_TEST(run({"put", "mybucket/a.txt", "-"}, "x") == kExitFailed);
  BOOST_TEST(run.err.str() == "azblob: put mybucket/a.txt: the blob store is full (NO_SPACE)\n");
}

BOOST_AUTO_TEST_CASE(no_device_exits_1_and_asks_about_the_module) {
  std::istringstream in;
  std::ostringstream out, err;
  const char* argv[] = {"azblob", "--device", "/nonexistent/azure_blob", "ls"};
  BOOST_TEST(run_cli(4, argv, {in, out, err}, Device::open) == kExitFailed);
  BOOST_TEST(err.str() ==
             "azblob: /nonexistent/azure_blob: no such device — is the az_blob module loaded and a blob channel "
             "offered?\n");
}

}  // namespace
}  // namespace vscsim::azblob
