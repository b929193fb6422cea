#include <boost/test/unit_test.hpp>

#include "src/test_guest_fixture.h"
#include "vscsim/devices/keyboard.h"
#include "vscsim/host/host.h"

namespace vh = vscsim::host;
namespace vd = vscsim::devices;

namespace {
std::vector<std::unique_ptr<vd::Device>> one_keyboard() {
  std::vector<std::unique_ptr<vd::Device>> d;
  d.push_back(vh::make_device("keyboard"));
  return d;
}
bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }
}  // namespace

BOOST_AUTO_TEST_CASE(make_device_knows_keyboard_only) {
  BOOST_TEST(vh::make_device("keyboard") != nullptr);
  BOOST_TEST(vh::make_device("mouse") == nullptr);
}

BOOST_AUTO_TEST_CASE(host_maps_guest_ram_only_when_the_guest_connects) {
  vh::testing::GuestRam ram;
  auto region = vscsim::transport::SharedRegion::create(vscsim::transport::layout::kMinRegionSize, 0);
  region.reset_for_guest(1);
  // A path that does not exist yet is fine until a guest connects.
  vh::Host missing("/nonexistent/guest-ram", one_keyboard());
  BOOST_TEST(starts_with(missing.command("state"), "ok session=none"));
  auto r = missing.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {});
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().find("/nonexistent/guest-ram") != std::string::npos);
  BOOST_TEST(missing.session() == nullptr);

  vh::Host host(ram.path(), one_keyboard());
  BOOST_REQUIRE(host.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {}).ok());
  const std::string state = host.command("state");
  BOOST_TEST(starts_with(state, "ok session=up connection=disconnected"), state);
  BOOST_TEST(state.find("relid=1 channel=unoffered ring=closed kind=keyboard") != std::string::npos,
             state);
  host.guest_disconnected();
  BOOST_TEST(starts_with(host.command("state"), "ok session=none"));
}

BOOST_AUTO_TEST_CASE(host_commands_validate_their_arguments) {
  vh::Host host("/nonexistent", one_keyboard());
  BOOST_TEST(starts_with(host.command(""), "error empty"));
  BOOST_TEST(starts_with(host.command("help"), "ok state"));
  BOOST_TEST(starts_with(host.command("rescind"), "error usage"));
  BOOST_TEST(starts_with(host.command("rescind 1 2"), "error usage"));
  BOOST_TEST(starts_with(host.command("rescind one"), "error 'one' is not a relid"));
  BOOST_TEST(starts_with(host.command("rescind 1"), "error no guest"));
  BOOST_TEST(starts_with(host.command("key"), "error usage"));
  BOOST_TEST(starts_with(host.command("key 0x1e sideways"), "error 'sideways'"));
  BOOST_TEST(starts_with(host.command("key 0x1e"), "error keyboard is closed"));
  BOOST_TEST(starts_with(host.command("warp 9"), "error unknown command"));
  vh::Host none("/nonexistent", {});
  BOOST_TEST(starts_with(none.command("key 0x1e"), "error no keyboard"));
}

BOOST_AUTO_TEST_CASE(fail_open_before_a_guest_applies_to_the_next_session_once) {
  vh::testing::GuestRam ram;
  auto region = vscsim::transport::SharedRegion::create(vscsim::transport::layout::kMinRegionSize, 0);
  region.reset_for_guest(1);
  vh::Host host(ram.path(), one_keyboard());
  BOOST_TEST(starts_with(host.command("fail-open 1"), "ok pending"));
  BOOST_REQUIRE(host.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {}).ok());
  const auto* faults = const_cast<vscsim::server::Server&>(host.session()->server()).faults(1);
  BOOST_REQUIRE(faults != nullptr);
  BOOST_TEST(faults->fail_next_open.has_value());
  // A second session (the guest reconnected) starts without the fault.
  BOOST_REQUIRE(host.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {}).ok());
  faults = const_cast<vscsim::server::Server&>(host.session()->server()).faults(1);
  BOOST_TEST(!faults->fail_next_open.has_value());
}
