#define BOOST_TEST_MODULE azblob_device
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <string>
#include <vector>

#include "fake_host.h"
#include "vscsim/azblob/device.h"

namespace vscsim::azblob {
namespace {

using namespace std::chrono_literals;
using testing::FakeDevice;

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::uint64_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

const std::string kRequest = [] {
  blob::Request r;
  r.set_format_version(1);
  return r.SerializeAsString();
}();

BOOST_AUTO_TEST_CASE(pages_spanned_counts_from_first_to_last_byte) {
  BOOST_TEST(pages_spanned(0x1000, 0) == 0u);
  BOOST_TEST(pages_spanned(0x1000, 1) == 1u);
  BOOST_TEST(pages_spanned(0x1000, 4096) == 1u);
  BOOST_TEST(pages_spanned(0x1000, 4097) == 2u);
  BOOST_TEST(pages_spanned(0x1fff, 2) == 2u);
  BOOST_TEST(pages_spanned(0x1800, 4096) == 2u);
}

BOOST_AUTO_TEST_CASE(call_without_data_fills_the_struct_as_the_driver_wants) {
  FakeDevice fake;
  Device device = fake.device();
  auto response = device.call(bytes_of(kRequest), 100, {}, {}, 1234ms);
  BOOST_TEST_REQUIRE(response.ok());
  BOOST_TEST_REQUIRE(fake.host->calls.size() == 1u);
  const az_blob_request_sync& s = fake.host->calls[0].sync;
  BOOST_TEST(s.timeout == 1234u);
  BOOST_TEST(s.request_len == kRequest.size());
  BOOST_TEST(s.request_buffer == address_of(kRequest.data()));
  BOOST_TEST(s.response_len == 100u);
  BOOST_TEST(s.response_buffer != 0u);
  BOOST_TEST(s.data_len == 0u);
  BOOST_TEST(s.data_valid == 0u);
  BOOST_TEST(s.data_buffer == 0u);
  BOOST_TEST(s.reserved == 0u);
}

BOOST_AUTO_TEST_CASE(data_in_alone_is_the_data_buffer_and_all_of_it_is_valid) {
  FakeDevice fake;
  Device device = fake.device();
  std::string blob = "hello, host";
  BOOST_TEST_REQUIRE(device.call(bytes_of(kRequest), 64, bytes_of(blob), {}, 0ms).ok());
  const auto& seen = fake.host->calls.at(0);
  BOOST_TEST(seen.sync.data_buffer == address_of(blob.data()));
  BOOST_TEST(seen.sync.data_len == blob.size());
  BOOST_TEST(seen.sync.data_valid == blob.size());
  BOOST_TEST(seen.sync.timeout == 0u);  // the driver's default
  BOOST_TEST(seen.data_in == blob);
}

BOOST_AUTO_TEST_CASE(data_out_is_room_for_the_host_with_data_in_copied_to_its_start) {
  FakeDevice fake;
  fake.host->handler = [](const testing::SeenCall&) { return testing::ok({}, "answer"); };
  Device device = fake.device();
  std::vector<std::byte> room(64);
  std::string head = "head";
  BOOST_TEST_REQUIRE(device.call(bytes_of(kRequest), 64, bytes_of(head), room, 10ms).ok());
  const auto& seen = fake.host->calls.at(0);
  BOOST_TEST(seen.sync.data_buffer == address_of(room.data()));
  BOOST_TEST(seen.sync.data_len == 64u);
  BOOST_TEST(seen.sync.data_valid == 4u);
  BOOST_TEST(seen.data_in == "head");
  BOOST_TEST(std::string(reinterpret_cast<const char*>(room.data()), 6) == "answer");
}

BOOST_AUTO_TEST_CASE(the_response_is_cut_to_what_the_host_wrote) {
  FakeDevice fake;
  blob::Response r;
  r.set_message("some text");
  fake.host->handler = [&](const testing::SeenCall&) { return testing::ok(r); };
  Device device = fake.device();
  auto response = device.call(bytes_of(kRequest), 4096, {}, {}, 10ms);
  BOOST_TEST_REQUIRE(response.ok());
  blob::Response decoded;
  BOOST_TEST_REQUIRE(decoded.ParseFromArray(response->data(), static_cast<int>(response->size())));
  BOOST_TEST(decoded.message() == "some text");
  BOOST_TEST(response->size() == decoded.ByteSizeLong());
}

BOOST_AUTO_TEST_CASE(each_call_has_its_own_transaction_id) {
  FakeDevice fake;
  Device device = fake.device();
  BOOST_TEST_REQUIRE(device.call(bytes_of(kRequest), 64, {}, {}, 10ms).ok());
  BOOST_TEST_REQUIRE(device.call(bytes_of(kRequest), 64, {}, {}, 10ms).ok());
  BOOST_TEST(std::memcmp(fake.host->calls[0].sync.guid, fake.host->calls[1].sync.guid, 16) != 0);
}

struct ErrnoCase {
  int err;
  std::string message;
};

BOOST_AUTO_TEST_CASE(every_documented_errno_has_a_clear_message) {
  const std::vector<ErrnoCase> cases = {
      {ETIMEDOUT, "timed out after 30000 ms: the host did not answer (ETIMEDOUT)"},
      {ENODEV, "/dev/azure_blob was removed (the host rescinded the channel or the driver was unbound) (ENODEV)"},
      {EBUSY, "the driver has too many requests in flight (EBUSY); try again"},
      {EPERM, "/dev/azure_blob was opened by a process with other credentials (EPERM)"},
      {EIO, "the host's answer was malformed (EIO)"},
      {EINVAL, "the driver rejected the request's lengths, pointers or timeout (EINVAL)"},
      {EFAULT, "the driver could not reach one of the buffers (EFAULT)"},
      {ENOTTY, "/dev/azure_blob does not take the az_blob ioctl (ENOTTY): is it an az_blob device?"},
      {EAGAIN, "the ioctl on /dev/azure_blob failed: Resource temporarily unavailable (errno 11)"},
  };
  for (const auto& c : cases) {
    FakeDevice fake;
    fake.host->handler = [&](const testing::SeenCall&) { return testing::Answer{.err = c.err}; };
    Device device = fake.device();
    auto r = device.call(bytes_of(kRequest), 64, {}, {}, 30000ms);
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message == c.message);
    BOOST_TEST(r.error().sys_errno == c.err);
    BOOST_TEST((r.error().kind == ErrorKind::kIoctl));
  }
}

BOOST_AUTO_TEST_CASE(a_timeout_with_the_driver_default_says_so) {
  FakeDevice fake;
  fake.host->handler = [](const testing::SeenCall&) { return testing::Answer{.err = ETIMEDOUT}; };
  Device device = fake.device();
  auto r = device.call(bytes_of(kRequest), 64, {}, {}, 0ms);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message ==
             "timed out after the driver's default timeout (module parameter timeout_ms): the host did not "
             "answer (ETIMEDOUT)");
}

BOOST_AUTO_TEST_CASE(every_wire_status_has_a_clear_message) {
  const std::vector<std::pair<std::uint32_t, std::string>> cases = {
      {1, "the host rejected the request as invalid (wire status 1)"},
      {2, "the host could not finish within the timeout (wire status 2)"},
      {3, "the host's response does not fit the 64-byte response buffer (wire status 3)"},
      {4, "the host's store failed (wire status 4)"},
      {77, "the host answered with an unknown wire status 77"},
  };
  for (const auto& c : cases) {
    FakeDevice fake;
    fake.host->handler = [&](const testing::SeenCall&) {
      testing::Answer a;
      a.wire_status = c.first;
      return a;
    };
    Device device = fake.device();
    auto r = device.call(bytes_of(kRequest), 64, {}, {}, 10ms);
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message == c.second);
    BOOST_TEST(r.error().wire_status == c.first);
    BOOST_TEST((r.error().kind == ErrorKind::kWire));
  }
}

// A transport that claims more response bytes than the buffer holds.
class Overclaiming final : public Transport {
 public:
  int ioctl(az_blob_request_sync& s) override {
    s.response = {.status = 0, .response_len = s.response_len + 1};
    return 0;
  }
};

BOOST_AUTO_TEST_CASE(a_response_length_over_the_capacity_is_malformed) {
  Device device("/dev/azure_blob", std::make_unique<Overclaiming>());
  auto r = device.call(bytes_of(kRequest), 64, {}, {}, 10ms);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == ErrorKind::kMalformed));
  BOOST_TEST(r.error().message == "the driver reports 65 response bytes in a 64-byte buffer");
}

BOOST_AUTO_TEST_CASE(limits_are_checked_before_anything_is_sent) {
  FakeDevice fake;
  Device device = fake.device();
  auto too_long = device.call(bytes_of(kRequest), 64, {}, {}, kMaxTimeout + 1ms);
  BOOST_TEST_REQUIRE(!too_long.ok());
  BOOST_TEST(too_long.error().message == "timeout 600001 ms is outside the driver's 0..600000 ms");
  BOOST_TEST((too_long.error().kind == ErrorKind::kLimit));

  std::vector<std::byte> huge(kMaxPages * kPageSize);
  auto too_big = device.call(bytes_of(kRequest), 64, {}, huge, 10ms);
  BOOST_TEST_REQUIRE(!too_big.ok());
  BOOST_TEST((too_big.error().kind == ErrorKind::kLimit));
  BOOST_TEST(too_big.error().message.find("the driver takes at most 8192") != std::string::npos);

  std::string in = "more than room";
  std::vector<std::byte> room(4);
  BOOST_TEST(!device.call(bytes_of(kRequest), 64, bytes_of(in), room, 10ms).ok());
  BOOST_TEST(!device.call({}, 64, {}, {}, 10ms).ok());
  BOOST_TEST(!device.call(bytes_of(kRequest), 0, {}, {}, 10ms).ok());
  BOOST_TEST(fake.host->calls.empty());
}

BOOST_AUTO_TEST_CASE(opening_a_missing_device_asks_whether_the_module_is_loaded) {
  auto device = Device::open("/nonexistent/azure_blob");
  BOOST_TEST_REQUIRE(!device.ok());
  BOOST_TEST((device.error().kind == ErrorKind::kOpen));
  BOOST_TEST(device.error().sys_errno == ENOENT);
  BOOST_TEST(device.error().message ==
             "/nonexistent/azure_blob: no such device — is the az_blob module loaded and a blob channel offered?");
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_the_driver_refuses_the_ioctl) {
  auto device = Device::open("/dev/null");
  BOOST_TEST_REQUIRE(device.ok());
  auto r = device->call(bytes_of(kRequest), 64, {}, {}, 10ms);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().sys_errno == ENOTTY);
}

}  // namespace
}  // namespace vscsim::azblob
