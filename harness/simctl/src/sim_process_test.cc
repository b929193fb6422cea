// SimProcess and SimControl against the real vsp-sim of this build: a blob
// device, no guest (the guest RAM file does not exist; the simulator waits
// for a guest to map it).
#define BOOST_TEST_MODULE simctl
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vscsim/simctl/sim_process.h"

namespace fs = std::filesystem;
namespace vc = vscsim::control;
using vscsim::simctl::SimControl;
using vscsim::simctl::SimProcess;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("vscsim-simctl-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

struct Sim {
  TempDir dir;
  SimProcess sim{VSP_SIM_BINARY, dir.path, dir.path / "no-guest-ram", {"--device", "blob"}};
  SimControl control = connect();

  SimControl connect() {
    auto c = sim.control(5s);
    BOOST_REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error()));
    return std::move(c).value();
  }
  vc::Response must(const vc::Request& r) {
    auto answer = control.must(r, 5s);
    BOOST_REQUIRE_MESSAGE(answer.ok(), (answer.ok() ? "" : answer.error()));
    return std::move(answer).value();
  }
};

vc::Request state() {
  vc::Request r;
  r.mutable_state();
  return r;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(state_over_protobuf_shows_the_blob_device_unoffered, Sim) {
  const vc::Response a = must(state());
  BOOST_TEST(a.id() != 0u);
  BOOST_REQUIRE(a.has_state());
  const vc::State& st = a.state();
  BOOST_TEST(!st.session_up());
  BOOST_REQUIRE_EQUAL(st.channel_size(), 1);
  BOOST_TEST(st.channel(0).kind() == "blob");
  BOOST_TEST(st.channel(0).relid() == 0u);  // no guest: nothing offered
  BOOST_TEST(st.channel(0).state() == "none");
  BOOST_TEST(st.channel(0).model().find("kind=blob state=closed delay_ms=0") == 0u, st.channel(0).model());
  BOOST_TEST(st.channel(0).text().find("relid=none channel=none kind=blob") == 0u, st.channel(0).text());
  // The text spelling still answers on another connection.
  BOOST_TEST(sim.ask("state").rfind("ok session=none | relid=none channel=none kind=blob", 0) == 0u);
}

BOOST_FIXTURE_TEST_CASE(blob_faults_are_set_over_protobuf_and_show_in_state, Sim) {
  vc::Request delay;
  delay.mutable_blob_delay()->set_relid(1);
  delay.mutable_blob_delay()->set_ms(250);
  delay.mutable_blob_delay()->set_late(true);
  must(delay);
  vc::Request drop;
  drop.mutable_blob_drop()->set_relid(1);
  drop.mutable_blob_drop()->set_count(2);
  drop.mutable_blob_drop()->set_after(1);
  must(drop);
  const std::string model = must(state()).state().channel(0).model();
  BOOST_TEST(model.find("delay_ms=250 (late)") != std::string::npos, model);
  BOOST_TEST(model.find(" drop=2 after=1") != std::string::npos, model);
}

BOOST_FIXTURE_TEST_CASE(an_unknown_relid_is_refused_with_a_reason, Sim) {
  vc::Request drop;
  drop.mutable_blob_drop()->set_relid(7);
  drop.mutable_blob_drop()->set_count(1);
  auto a = control.call(drop, 5s);
  BOOST_REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error()));
  BOOST_TEST(!a->ok());
  BOOST_TEST(a->error() == "relid 7 is not a blob device");
  auto refused = control.must(drop, 5s);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error() == "blob_drop: relid 7 is not a blob device");
  // The connection goes on after a refusal.
  BOOST_TEST(must(state()).state().channel_size() == 1);
}

BOOST_FIXTURE_TEST_CASE(trace_dump_writes_the_file_and_counts_its_events, Sim) {
  vc::Request dump;
  dump.mutable_trace_dump()->set_path((dir.path / "trace.jsonl").string());
  const vc::Response a = must(dump);
  BOOST_REQUIRE(a.has_trace_dump());
  BOOST_TEST(a.trace_dump().events() == 0u);
  std::ifstream f(dir.path / "trace.jsonl");
  std::stringstream text;
  text << f.rdbuf();
  BOOST_TEST(text.str() == "{\"end\":true,\"events\":0,\"dropped\":0}\n");
  dump.mutable_trace_dump()->set_path((dir.path / "missing" / "trace.jsonl").string());
  auto bad = control.call(dump, 5s);
  BOOST_REQUIRE(bad.ok());
  BOOST_TEST(!bad->ok());
  BOOST_TEST(bad->error().find("cannot write") == 0u, bad->error());
}

BOOST_AUTO_TEST_CASE(stop_ends_the_simulator_cleanly) {
  TempDir dir;
  SimProcess sim(VSP_SIM_BINARY, dir.path, dir.path / "no-guest-ram", {"--device", "blob"});
  BOOST_TEST(fs::is_socket(sim.socket()));
  BOOST_TEST(!sim.exited());
  const int status = sim.stop();
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), status);
  BOOST_TEST(sim.exited());
  BOOST_TEST(!fs::exists(sim.control_socket()));
  BOOST_TEST(sim.stop() == status);  // the status already collected
  // No simulator: connecting says why.
  auto gone = SimControl::connect(sim.control_socket(), 1s);
  BOOST_REQUIRE(!gone.ok());
  BOOST_TEST(gone.error().find("connect") == 0u, gone.error());
}

BOOST_AUTO_TEST_CASE(a_simulator_that_cannot_start_throws_with_its_log) {
  TempDir dir;
  BOOST_CHECK_EXCEPTION(SimProcess(VSP_SIM_BINARY, dir.path, dir.path / "ram", {"--device", "mouse"}),
                        std::runtime_error, [](const std::runtime_error& e) {
                          return std::string(e.what()).find("mouse") != std::string::npos;
                        });
}
