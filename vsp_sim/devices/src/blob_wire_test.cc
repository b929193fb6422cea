// blob_wire::check_request: every rule, and the sums that must not wrap.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>

#include "vscsim/devices/blob_wire.h"

namespace bw = vscsim::devices::blob_wire;

namespace {

// Four pages: data [0, 5000), request [8192, +100), response [12288, +4096).
bw::Request valid_request() {
  bw::Request r{};
  r.version = bw::kVersion;
  r.timeout_ms = 30000;
  r.data_buffer_offset = 0;
  r.data_buffer_length = 5000;
  r.data_buffer_valid = 5000;
  r.operation_type = bw::kOpUserRequest;
  r.request_buffer_offset = 8192;
  r.request_buffer_length = 100;
  r.response_buffer_offset = 12288;
  r.response_buffer_length = 4096;
  return r;
}

vscsim::wire::ParsedGpaRange pages(std::uint64_t n) {
  vscsim::wire::ParsedGpaRange range{static_cast<std::uint32_t>(n * 4096), 0, {}};
  for (std::uint64_t i = 0; i < n; ++i) range.pfns.push_back(100 + i);
  return range;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_well_formed_request_yields_its_windows) {
  auto c = bw::check_request(valid_request(), pages(4));
  BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error()));
  BOOST_TEST(c->data.offset == 0u);
  BOOST_TEST(c->data.length == 5000u);
  BOOST_TEST(c->data_valid == 5000u);
  BOOST_TEST(c->request.offset == 8192u);
  BOOST_TEST(c->response.length == 4096u);
  BOOST_TEST(c->timeout_ms == 30000u);
  // No data at all (a stat): offset 0, length 0.
  auto r = valid_request();
  r.data_buffer_length = r.data_buffer_valid = 0;
  BOOST_TEST(bw::check_request(r, pages(4)).ok());
  // The response buffer may end exactly at the last byte of the pages.
  r.response_buffer_length = 4096;
  BOOST_TEST(bw::check_request(r, pages(4)).ok());
}

BOOST_AUTO_TEST_CASE(each_broken_rule_is_refused_with_a_reason) {
  struct Case {
    const char* what;
    std::function<void(bw::Request&, vscsim::wire::ParsedGpaRange&)> mutate;
  };
  const Case cases[] = {
      {"version 1", [](auto& r, auto&) { r.version = 1; }},
      {"register buffer", [](auto& r, auto&) { r.operation_type = bw::kOpRegisterBuffer; }},
      {"deregister buffer", [](auto& r, auto&) { r.operation_type = bw::kOpDeregisterBuffer; }},
      {"operation 0", [](auto& r, auto&) { r.operation_type = 0; }},
      {"request length 0", [](auto& r, auto&) { r.request_buffer_length = 0; }},
      {"response length 0", [](auto& r, auto&) { r.response_buffer_length = 0; }},
      {"data_valid > length", [](auto& r, auto&) { r.data_buffer_valid = 5001; }},
      {"data offset past the pages", [](auto& r, auto&) { r.data_buffer_offset = 16385; r.data_buffer_length = r.data_buffer_valid = 0; }},
      {"response one byte past", [](auto& r, auto&) { r.response_buffer_offset = 12289; }},
      // 0xfffff000 + 0x2000 wraps to 0x1000 in 32 bits: inside, if summed wrongly.
      {"u32 wrap of offset + length", [](auto& r, auto&) { r.request_buffer_offset = 0xfffff000; r.request_buffer_length = 0x2000; }},
      {"u32 wrap of the data", [](auto& r, auto&) { r.data_buffer_offset = 0xffffffff; r.data_buffer_length = 2; r.data_buffer_valid = 0; }},
      {"data overlaps request", [](auto& r, auto&) { r.data_buffer_length = r.data_buffer_valid = 8193; }},
      {"request overlaps response", [](auto& r, auto&) { r.request_buffer_length = 4097; }},
      {"range not at byte 0", [](auto&, auto& g) { g.byte_offset = 8; }},
      {"range not whole pages", [](auto&, auto& g) { g.byte_count -= 1; }},
      {"too many pages", [](auto&, auto& g) { g = pages(bw::kMaxPages + 1); }},
  };
  for (const auto& c : cases) {
    auto r = valid_request();
    auto g = pages(4);
    c.mutate(r, g);
    auto checked = bw::check_request(r, g);
    BOOST_TEST(!checked.ok(), c.what);
    if (!checked.ok()) BOOST_TEST(!checked.error().empty(), c.what);
  }
  // The page cap itself is allowed.
  auto r = valid_request();
  BOOST_TEST(bw::check_request(r, pages(bw::kMaxPages)).ok());
}
