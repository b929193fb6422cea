// azblob bench end to end on the host: over HTTP against the simulator's own
// BlobHttpServer on loopback (in process), and over a fake device whose host
// runs the simulator's payload executor. Both stores are the real ones, so a
// get reads what the put wrote; the negative controls corrupt what a get
// returns and must be counted as errors.
#define BOOST_TEST_MODULE azblob_bench
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "http_server_thread.h"
#include "vscsim/azblob/bench.h"
#include "vscsim/azblob/cli.h"
#include "vscsim/azblob/http_client.h"
#include "vscsim/blobstore/executor.h"
#include "vscsim/blobstore/memory_store.h"

namespace vscsim::azblob {
namespace {

// A store that hands out every blob with its first byte flipped: what a
// faulty path would deliver. Everything else goes to the store beneath.
class FlippingStore final : public blobstore::Store {
 public:
  explicit FlippingStore(blobstore::Store& inner) : inner_(inner) {}
  blobstore::StoreResult<void> create_container(std::string_view c) override { return inner_.create_container(c); }
  blobstore::StoreResult<void> delete_container(std::string_view c) override { return inner_.delete_container(c); }
  blobstore::StoreResult<blobstore::BlobInfo> put(std::string_view c, std::string_view b,
                                                  std::span<const std::byte> data) override {
    return inner_.put(c, b, data);
  }
  blobstore::StoreResult<blobstore::ReadResult> get(std::string_view c, std::string_view b, blobstore::ByteRange range,
                                                    std::span<std::byte> out) override {
    auto read = inner_.get(c, b, range, out);
    if (read && read->length > 0) out[0] ^= std::byte{0x01};
    return read;
  }
  blobstore::StoreResult<blobstore::BlobInfo> stat(std::string_view c, std::string_view b) override {
    return inner_.stat(c, b);
  }
  blobstore::StoreResult<void> delete_blob(std::string_view c, std::string_view b) override {
    return inner_.delete_blob(c, b);
  }
  blobstore::StoreResult<bool> visit_blobs(std::string_view c, std::string_view prefix, std::string_view after,
                                           const blobstore::ListVisitor& visit) override {
    return inner_.visit_blobs(c, prefix, after, visit);
  }
  blobstore::StoreResult<bool> visit_containers(std::string_view prefix, std::string_view after,
                                                const blobstore::ListVisitor& visit) override {
    return inner_.visit_containers(prefix, after, visit);
  }
  [[nodiscard]] std::uint64_t used_bytes() const override { return inner_.used_bytes(); }
  [[nodiscard]] std::uint64_t object_count() const override { return inner_.object_count(); }
  [[nodiscard]] const blobstore::Limits& limits() const override { return inner_.limits(); }

 private:
  blobstore::Store& inner_;
};

// A device whose host runs the simulator's executor on a shared store, as
// the blob device model does (one request at a time: the store has one
// owner, here a mutex). Safe to use from several bench threads.
class ExecutorHost final : public Transport {
 public:
  ExecutorHost(blobstore::Store& store, std::mutex& mutex) : store_(store), mutex_(mutex) {}
  int ioctl(az_blob_request_sync& s) override {
    const auto* request_bytes = reinterpret_cast<const std::byte*>(static_cast<std::uintptr_t>(s.request_buffer));
    auto request = blobstore::decode_request(std::span(request_bytes, s.request_len));
    if (!request.ok()) return EINVAL;
    auto* data = reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(s.data_buffer));
    blob::Response response;
    {
      std::lock_guard lock(mutex_);
      response = blobstore::execute(store_, *request,
                                    {.input = std::span<const std::byte>(data, s.data_valid),
                                     .output = std::span<std::byte>(data, s.data_len),
                                     .response_capacity = s.response_len});
    }
    const std::string bytes = response.SerializeAsString();
    if (bytes.size() > s.response_len) return EINVAL;
    std::memcpy(reinterpret_cast<void*>(static_cast<std::uintptr_t>(s.response_buffer)), bytes.data(), bytes.size());
    s.response = {.status = 0, .response_len = static_cast<std::uint32_t>(bytes.size())};
    return 0;
  }

 private:
  blobstore::Store& store_;
  std::mutex& mutex_;
};

struct BenchRun {
  int status = -1;
  std::string out, err;
  nlohmann::json json;  // the one line of stdout, parsed
};

// `azblob <args>` with devices over `store` (vmbus); records the opened paths.
BenchRun run_azblob(const std::vector<std::string>& args, blobstore::Store* store = nullptr,
                    std::vector<std::string>* opened = nullptr) {
  std::mutex store_mutex;
  std::vector<const char*> argv{"azblob"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in;
  std::ostringstream out, err;
  BenchRun run;
  run.status = run_cli(static_cast<int>(argv.size()), argv.data(), {in, out, err}, [&](const std::string& path) {
    if (opened) opened->push_back(path);
    if (!store) return Result<Device>(Err(Error{.kind = ErrorKind::kOpen, .message = path + ": no device"}));
    return Result<Device>(Device(path, std::make_unique<ExecutorHost>(*store, store_mutex)));
  });
  run.out = out.str();
  run.err = err.str();
  if (!run.out.empty()) {
    BOOST_TEST(run.out.back() == '\n');
    BOOST_TEST(std::count(run.out.begin(), run.out.end(), '\n') == 1, "stdout: " << run.out);
    run.json = nlohmann::json::parse(run.out);
  }
  return run;
}

void check_report(const BenchRun& run, const std::string& transport, const std::string& op, std::uint64_t size,
                  unsigned threads) {
  BOOST_TEST_REQUIRE(run.json.is_object(), "stdout: " << run.out << " stderr: " << run.err);
  BOOST_TEST(run.json.size() == 12u);
  BOOST_TEST(run.json["transport"].get<std::string>() == transport);
  BOOST_TEST(run.json["op"].get<std::string>() == op);
  BOOST_TEST(run.json["size"].get<std::uint64_t>() == size);
  BOOST_TEST(run.json["threads"].get<unsigned>() == threads);
  BOOST_TEST(run.json["seconds"].get<double>() > 0);
  BOOST_TEST(run.json["ops_per_s"].get<double>() > 0);
  const double p50 = run.json["p50_us"].get<double>(), p99 = run.json["p99_us"].get<double>();
  BOOST_TEST(p50 > 0);
  BOOST_TEST(p50 <= p99);
  BOOST_TEST(p99 <= run.json["max_us"].get<double>());
}

std::string stored(blobstore::Store& store, const std::string& blob) {
  auto info = store.stat("bench", blob);
  if (!info) return "<missing>";
  std::string bytes(info->size, '\0');
  auto read = store.get("bench", blob, {}, std::as_writable_bytes(std::span(bytes.data(), bytes.size())));
  return read ? bytes : "<unreadable>";
}

BOOST_AUTO_TEST_CASE(http_put_and_get_round_trip_against_the_simulators_server) {
  auto store = blobstore::make_memory_store();
  http::testing::ServerThread server(*store);
  const std::string address = "127.0.0.1:" + std::to_string(server.port());

  BenchRun put = run_azblob({"bench", "--transport", "http", "--http", address, "--op", "put", "--size", "4096",
                             "--threads", "3", "--count", "90"});
  BOOST_TEST(put.status == kExitOk, put.err);
  check_report(put, "http", "put", 4096, 3);
  BOOST_TEST(put.json["ops"].get<std::uint64_t>() == 90u);
  BOOST_TEST(put.json["errors"].get<std::uint64_t>() == 0u);
  BOOST_TEST(put.err.empty());

  BenchRun get = run_azblob({"bench", "--transport", "http", "--http", address, "--op", "get", "--size", "1048576",
                             "--threads", "2", "--seconds", "0.3"});
  BOOST_TEST(get.status == kExitOk, get.err);
  check_report(get, "http", "get", 1048576, 2);
  BOOST_TEST(get.json["ops"].get<std::uint64_t>() > 0u);
  BOOST_TEST(get.json["errors"].get<std::uint64_t>() == 0u);
  BOOST_TEST(get.json["mib_per_s"].get<double>() > 0);

  server.stop();
  // Each put thread wrote its own blob; the threads' bytes differ.
  for (int t = 0; t < 3; ++t) BOOST_TEST(stored(*store, "bench-put-t" + std::to_string(t)).size() == 4096u);
  BOOST_TEST(stored(*store, "bench-put-t0") != stored(*store, "bench-put-t1"));
  BOOST_TEST(stored(*store, "bench-get-t1").size() == 1048576u);
  // One keep-alive connection per thread and run (and no more).
  BOOST_TEST(server.server().counters().connections == 5u);
}

BOOST_AUTO_TEST_CASE(http_gets_of_wrong_bytes_are_counted_as_errors) {
  auto inner = blobstore::make_memory_store();
  FlippingStore store(*inner);
  http::testing::ServerThread server(store);
  BenchRun get = run_azblob({"bench", "--transport", "http", "--http", "127.0.0.1:" + std::to_string(server.port()),
                             "--op", "get", "--size", "4096", "--threads", "2", "--count", "20"});
  BOOST_TEST(get.status == kExitFailed);
  BOOST_TEST_REQUIRE(get.json.is_object(), get.out);
  BOOST_TEST(get.json["ops"].get<std::uint64_t>() == 20u);
  BOOST_TEST(get.json["errors"].get<std::uint64_t>() == 20u);
  BOOST_TEST(get.err.find("azblob: bench: thread 1, operation 1: get bench/bench-get-t1: 1 of 4096 bytes differ "
                          "from the pattern written (the first at offset 0)") != std::string::npos,
             get.err);
  BOOST_TEST(get.err.find("5 more failures not shown") != std::string::npos, get.err);
}

BOOST_AUTO_TEST_CASE(http_failures_name_the_status_and_a_missing_server_fails_the_set_up) {
  auto store = blobstore::make_memory_store(blobstore::Limits{.capacity_bytes = 10000, .max_objects = 100});
  http::testing::ServerThread server(*store);
  BenchRun full = run_azblob({"bench", "--transport", "http", "--http", "127.0.0.1:" + std::to_string(server.port()),
                              "--op", "put", "--size", "6000", "--threads", "2", "--count", "4"});
  BOOST_TEST(full.status == kExitFailed);
  BOOST_TEST(full.json["errors"].get<std::uint64_t>() >= 1u);
  BOOST_TEST(full.err.find("HTTP 507") != std::string::npos, full.err);

  // A port nobody listens on any more: no JSON, the reason on stderr.
  std::uint16_t dead_port = 0;
  {
    http::testing::ServerThread gone_server(*store);
    dead_port = gone_server.port();
  }
  BenchRun gone = run_azblob({"bench", "--transport", "http", "--http", "127.0.0.1:" + std::to_string(dead_port),
                              "--op", "put", "--size", "1", "--threads", "1", "--count", "1"});
  BOOST_TEST(gone.status == kExitFailed);
  BOOST_TEST(gone.out.empty());
  BOOST_TEST(gone.err.find("ECONNREFUSED") != std::string::npos, gone.err);
}

BOOST_AUTO_TEST_CASE(vmbus_put_and_get_open_a_device_per_thread) {
  auto store = blobstore::make_memory_store();
  std::vector<std::string> opened;
  BenchRun put = run_azblob({"bench", "--transport", "vmbus", "--device", "/dev/azure_blob1", "--op", "put", "--size",
                             "65536", "--threads", "4", "--count", "100"},
                            store.get(), &opened);
  BOOST_TEST(put.status == kExitOk, put.err);
  check_report(put, "vmbus", "put", 65536, 4);
  BOOST_TEST(put.json["ops"].get<std::uint64_t>() == 100u);
  BOOST_TEST(put.json["errors"].get<std::uint64_t>() == 0u);
  BOOST_TEST(opened == std::vector<std::string>(4, "/dev/azure_blob1"), boost::test_tools::per_element());
  BOOST_TEST(stored(*store, "bench-put-t3").size() == 65536u);
  BOOST_TEST(store->stat("bench", "bench-put-t3")->generation == 25u);  // 100 puts over 4 threads

  BenchRun get = run_azblob(
      {"bench", "--transport", "vmbus", "--op", "get", "--size", "3000", "--threads", "2", "--seconds", "0.2"},
      store.get());
  BOOST_TEST(get.status == kExitOk, get.err);
  check_report(get, "vmbus", "get", 3000, 2);
  BOOST_TEST(get.json["ops"].get<std::uint64_t>() > 0u);
  BOOST_TEST(get.json["errors"].get<std::uint64_t>() == 0u);
}

BOOST_AUTO_TEST_CASE(vmbus_gets_of_wrong_bytes_are_counted_as_errors) {
  auto inner = blobstore::make_memory_store();
  FlippingStore store(*inner);
  BenchRun get = run_azblob(
      {"bench", "--transport", "vmbus", "--op", "get", "--size", "100", "--threads", "1", "--count", "3"}, &store);
  BOOST_TEST(get.status == kExitFailed);
  BOOST_TEST(get.json["errors"].get<std::uint64_t>() == 3u);
  BOOST_TEST(get.err.find("thread 0, operation 3: get bench/bench-get-t0: 1 of 100 bytes differ") != std::string::npos,
             get.err);

  BenchRun no_device = run_azblob({"bench", "--transport", "vmbus", "--op", "put", "--size", "1", "--threads", "1",
                                   "--count", "1"});
  BOOST_TEST(no_device.status == kExitFailed);
  BOOST_TEST(no_device.out.empty());
  BOOST_TEST(no_device.err == "azblob: bench: set-up of thread 0: /dev/azure_blob: no device\n");
}

BOOST_AUTO_TEST_CASE(the_json_line_has_every_field_in_order) {
  BenchOptions options;
  options.transport = BenchTransport::kHttp;
  options.op = BenchOp::kGet;
  options.size = 1048576;
  options.threads = 2;
  BenchReport report{.ops = 4, .errors = 0, .seconds = 2.0, .latencies_ns = {1000, 2000, 3500, 9000}};
  BOOST_TEST(bench_json(options, report) ==
             "{\"transport\":\"http\",\"op\":\"get\",\"size\":1048576,\"threads\":2,\"ops\":4,\"errors\":0,"
             "\"seconds\":2.000000,\"ops_per_s\":2.0,\"mib_per_s\":2.000,\"p50_us\":2.000,\"p99_us\":9.000,"
             "\"max_us\":9.000}");
}

BOOST_AUTO_TEST_CASE(percentiles_are_nearest_rank) {
  std::vector<std::uint64_t> hundred;
  for (std::uint64_t i = 1; i <= 100; ++i) hundred.push_back(i);
  BOOST_TEST(percentile(hundred, 50) == 50u);
  BOOST_TEST(percentile(hundred, 99) == 99u);
  BOOST_TEST(percentile(hundred, 100) == 100u);
  BOOST_TEST(percentile({7}, 99) == 7u);
  BOOST_TEST(percentile({}, 50) == 0u);
  BOOST_TEST(percentile({1, 2, 3}, 50) == 2u);
}

BOOST_AUTO_TEST_CASE(http_endpoints_are_numeric_and_names_are_percent_encoded) {
  const auto v4 = parse_http_endpoint("10.0.2.2:8080");
  BOOST_TEST_REQUIRE(v4.ok());
  BOOST_TEST(v4->host == "10.0.2.2");
  BOOST_TEST(v4->port == 8080u);
  BOOST_TEST(parse_http_endpoint("[::1]:1").ok());
  for (std::string_view bad : {"localhost:80", "10.0.2.2", "10.0.2.2:0", "10.0.2.2:65536", "10.0.2.2:x", "::1:80",
                               "[::1]", "[nope]:80", ":80"}) {
    BOOST_TEST_INFO("endpoint: " << bad);
    BOOST_TEST(!parse_http_endpoint(bad).ok());
  }
  BOOST_TEST(blob_target("c", "dir/a b%.txt") == "/c/dir/a%20b%25.txt");
  BOOST_TEST(blob_target("c", "\xc3\xa9?#") == "/c/%C3%A9%3F%23");
}

}  // namespace
}  // namespace vscsim::azblob
