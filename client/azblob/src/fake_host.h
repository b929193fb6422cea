// Test helper: a fake az_blob device. It checks each ioctl struct the way the
// driver does (docs/azure-blob.md, section 1), records what it saw, lets the
// test's handler answer, and writes that answer back as the driver would.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vscsim/azblob/device.h"
#include "vscsim/blob.pb.h"

namespace vscsim::azblob::testing {

// One ioctl as the host saw it.
struct SeenCall {
  az_blob_request_sync sync{};
  blob::Request request{};  // decoded from the request buffer
  std::string data_in{};    // the first data_valid bytes of the data buffer
};

struct Answer {
  int err = 0;                     // non-zero: the ioctl fails with this errno
  std::uint32_t wire_status = 0;
  blob::Response response{};         // serialised into the response buffer...
  std::optional<std::string> raw{};  // ...unless these bytes are given instead
  std::string data{};                // written at the start of the data buffer
};

// An OK answer in format version 1.
inline Answer ok(blob::Response response = {}, std::string data = {}) {
  response.set_format_version(1);
  response.set_status(blob::OK);
  return Answer{.response = std::move(response), .data = std::move(data)};
}

inline Answer status(blob::Status status, std::string message = {}) {
  Answer a = ok();
  a.response.set_status(status);
  a.response.set_message(std::move(message));
  return a;
}

class FakeHost final : public Transport {
 public:
  using Handler = std::function<Answer(const SeenCall&)>;

  struct State {
    std::vector<SeenCall> calls;
    Handler handler = [](const SeenCall&) { return ok(); };
  };

  explicit FakeHost(std::shared_ptr<State> state) : state_(std::move(state)) {}

  int ioctl(az_blob_request_sync& sync) override {
    BOOST_TEST_REQUIRE(well_formed(sync));
    SeenCall seen{.sync = sync};
    BOOST_TEST_REQUIRE(seen.request.ParseFromArray(pointer(sync.request_buffer), static_cast<int>(sync.request_len)));
    if (sync.data_valid > 0) seen.data_in.assign(pointer(sync.data_buffer), sync.data_valid);
    state_->calls.push_back(seen);

    Answer answer = state_->handler(seen);
    if (answer.err != 0) return answer.err;
    std::string response = answer.raw ? *answer.raw : answer.response.SerializeAsString();
    if (response.size() > sync.response_len) {
      sync.response = {.status = static_cast<std::uint32_t>(WireStatus::kResponseTooSmall), .response_len = 0};
      return 0;
    }
    BOOST_TEST_REQUIRE(answer.data.size() <= sync.data_len);
    std::memcpy(pointer(sync.response_buffer), response.data(), response.size());
    if (!answer.data.empty()) std::memcpy(pointer(sync.data_buffer), answer.data.data(), answer.data.size());
    sync.response = {.status = answer.wire_status, .response_len = static_cast<std::uint32_t>(response.size())};
    return 0;
  }

  // What the driver checks before it pins anything.
  static bool well_formed(const az_blob_request_sync& s) {
    bool lengths = s.request_len > 0 && s.response_len > 0 && s.data_valid <= s.data_len;
    bool pointers = s.request_buffer != 0 && s.response_buffer != 0 && (s.data_len == 0) == (s.data_buffer == 0);
    std::size_t pages = pages_spanned(s.request_buffer, s.request_len) +
                        pages_spanned(s.response_buffer, s.response_len) +
                        pages_spanned(s.data_buffer, s.data_len);
    return lengths && pointers && s.reserved == 0 && s.timeout <= AZ_BLOB_MAX_TIMEOUT_MS && pages <= kMaxPages;
  }

 private:
  static char* pointer(std::uint64_t address) { return reinterpret_cast<char*>(static_cast<std::uintptr_t>(address)); }

  std::shared_ptr<State> state_;
};

// A Device over a fresh fake host, and the host's state to script and inspect.
struct FakeDevice {
  std::shared_ptr<FakeHost::State> host = std::make_shared<FakeHost::State>();
  Device device() const { return Device("/dev/azure_blob", std::make_unique<FakeHost>(host)); }
};

}  // namespace vscsim::azblob::testing
