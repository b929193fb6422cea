#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>

#include "blobstore_test_util.h"
#include "src/test_guest_fixture.h"
#include "vscsim/blobstore/store.h"
#include "vscsim/devices/blob.h"
#include "vscsim/devices/blob_vpci.h"
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

BOOST_AUTO_TEST_CASE(make_device_knows_the_device_kinds) {
  for (const auto kind : vh::kDeviceKinds) {
    auto d = vh::make_device(kind);
    BOOST_REQUIRE(d != nullptr);
    BOOST_TEST(d->kind() == kind);
  }
  BOOST_TEST(vh::make_device("mouse") == nullptr);
  auto bad = vh::make_devices({"keyboard", "mouse"});
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error() == "unknown device 'mouse'");
}

BOOST_AUTO_TEST_CASE(repeated_kinds_get_distinct_instances_and_blob_stores) {
  vscsim::blobstore::testing::TempDir dir;
  vh::DeviceOptions options;
  options.blob_dir = (dir.path / "blobs").string();
  options.blob_delay = std::chrono::milliseconds(7);
  auto made = vh::make_devices({"blob", "keyboard", "blob", "keyboard", "blob-vpci"}, options);
  BOOST_REQUIRE_MESSAGE(made.ok(), (made.ok() ? "" : made.error()));
  const auto& d = *made;
  BOOST_TEST(d[0]->instance().to_string() == vd::Blob::default_instance().to_string());
  BOOST_TEST(d[1]->instance().to_string() == vd::Keyboard::default_instance().to_string());
  BOOST_TEST(d[2]->instance().to_string() != d[0]->instance().to_string());
  BOOST_TEST(d[3]->instance().to_string() != d[1]->instance().to_string());
  BOOST_TEST(d[4]->instance().to_string() == vd::BlobVpci::default_instance().to_string());
  // Each blob device has a directory store of its own, named by its instance.
  for (int i : {0, 2}) {
    BOOST_TEST(std::filesystem::exists(dir.path / "blobs" / d[i]->instance().to_string() /
                                       "VSCSIM-BLOBSTORE"));
    BOOST_TEST(d[i]->describe().find("delay_ms=7") != std::string::npos, d[i]->describe());
  }
  auto& first = dynamic_cast<vd::Blob&>(*d[0]);
  auto& second = dynamic_cast<vd::Blob&>(*d[2]);
  BOOST_REQUIRE(first.store().create_container("only-here").ok());
  BOOST_TEST(second.store().object_count() == 0u);
  // The same directory cannot back two running simulators' devices.
  auto again = vh::make_devices({"blob"}, options);
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST(again.error().find("in use") != std::string::npos, again.error());
}

BOOST_AUTO_TEST_CASE(blob_delay_sets_the_delay_of_the_blob_at_a_relid) {
  auto made = vh::make_devices({"keyboard", "blob"});
  BOOST_REQUIRE(made.ok());
  vh::Host host("/nonexistent", std::move(made).value());
  BOOST_TEST(host.command("help").find("blob-delay") != std::string::npos);
  BOOST_TEST(host.command("state").find("kind=blob state=closed delay_ms=0") != std::string::npos);
  BOOST_TEST(host.command("blob-delay 2 250") == "ok");
  BOOST_TEST(host.command("state").find("kind=blob state=closed delay_ms=250") != std::string::npos,
             host.command("state"));
  BOOST_TEST(host.command("blob-delay 2 300 late") == "ok");
  BOOST_TEST(host.command("state").find("delay_ms=300 (late)") != std::string::npos, host.command("state"));
  BOOST_TEST(starts_with(host.command("blob-delay 2 300 early"), "error usage"));
  BOOST_TEST(starts_with(host.command("blob-delay 1 5"), "error relid 1 is not a blob device"));
  BOOST_TEST(starts_with(host.command("blob-delay 3 5"), "error relid 3 is not a blob device"));
  BOOST_TEST(starts_with(host.command("blob-delay 2"), "error usage"));
  BOOST_TEST(starts_with(host.command("blob-delay 2 soon"), "error 'soon'"));
  BOOST_TEST(starts_with(host.command("blob-delay x 5"), "error 'x' is not a relid"));
  BOOST_TEST(host.command("blob-delay 2 0") == "ok");
  // Injection needs an open channel; the arguments are checked first.
  BOOST_TEST(starts_with(host.command("blob-inject 2 7"), "error the channel is not open"), host.command("blob-inject 2 7"));
  BOOST_TEST(starts_with(host.command("blob-inject 1 7"), "error relid 1 is not a blob device"));
  BOOST_TEST(starts_with(host.command("blob-inject 2 x"), "error 'x' is not a transaction id"));
  BOOST_TEST(starts_with(host.command("blob-inject 2"), "error usage"));
}

BOOST_AUTO_TEST_CASE(trace_dump_writes_the_trace_and_names_a_bad_path) {
  vh::Host host("/nonexistent", one_keyboard());
  const auto path = std::filesystem::temp_directory_path() / ("host-trace-" + std::to_string(::getpid()) + ".jsonl");
  BOOST_TEST(host.command("trace-dump " + path.string()) == "ok 0 0");
  BOOST_TEST(std::filesystem::exists(path));
  std::filesystem::remove(path);
  BOOST_TEST(starts_with(host.command("trace-dump /nonexistent/dir/t.jsonl"), "error cannot write"));
  BOOST_TEST(starts_with(host.command("trace-dump"), "error usage"));
  BOOST_TEST(host.command("trace-clear") == "ok");
  BOOST_TEST(host.command("help").find("trace-dump") != std::string::npos);
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

  // The connected guest stays pending: once the file appears (QEMU creates a
  // file-backed RAM after it connects), the guest's next signal attaches it.
  const auto later = std::filesystem::temp_directory_path() /
                     ("vscsim-host-test-later-ram." + std::to_string(::getpid()));
  std::filesystem::remove(later);
  vh::Host pending(later.string(), one_keyboard());
  BOOST_REQUIRE(!pending.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {}).ok());
  pending.on_guest_signal(0);
  BOOST_TEST(pending.session() == nullptr);
  std::filesystem::create_symlink(ram.path(), later);
  pending.on_guest_signal(0);
  BOOST_TEST(pending.session() != nullptr);
  std::filesystem::remove(later);
  // A guest that left is not attached by a late signal.
  vh::Host gone(later.string(), one_keyboard());
  BOOST_REQUIRE(!gone.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {}).ok());
  gone.guest_disconnected();
  std::filesystem::create_symlink(ram.path(), later);
  gone.on_guest_signal(0);
  BOOST_TEST(gone.session() == nullptr);
  std::filesystem::remove(later);

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
