// Host::execute, the one place control commands run: every command, its
// refusals, and the text spelling of the new blob-drop; fault rules through
// both spellings (adding, listing, clearing, the state answer, refusals).
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "src/test_guest_fixture.h"
#include "vscsim/devices/blob.h"
#include "vscsim/host/fault_engine.h"
#include "vscsim/host/host.h"

namespace vh = vscsim::host;
namespace vc = vscsim::control;

namespace {

vh::Host make_host(std::initializer_list<std::string> kinds) {
  auto made = vh::make_devices(std::vector<std::string>(kinds));
  BOOST_REQUIRE(made.ok());
  return vh::Host("/nonexistent", std::move(made).value());
}

vc::Request channel_request(vc::ChannelRef* (vc::Request::*field)(), std::uint32_t relid) {
  vc::Request r;
  (r.*field)()->set_relid(relid);
  return r;
}

vc::Request blob_drop(std::uint32_t relid, std::uint32_t count, std::uint32_t after) {
  vc::Request r;
  r.mutable_blob_drop()->set_relid(relid);
  r.mutable_blob_drop()->set_count(count);
  r.mutable_blob_drop()->set_after(after);
  return r;
}

vc::State state_of(vh::Host& host) {
  vc::Request r;
  r.mutable_state();
  const vc::Response a = host.execute(r);
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(a.has_state());
  return a.state();
}

}  // namespace

BOOST_AUTO_TEST_CASE(execute_state_describes_each_device_without_a_guest) {
  auto host = make_host({"keyboard", "blob"});
  vc::Request r;
  r.set_id(41);
  r.mutable_state();
  const vc::Response a = host.execute(r);
  BOOST_TEST(a.id() == 41u);
  BOOST_TEST(a.ok());
  const vc::State& st = a.state();
  BOOST_TEST(!st.session_up());
  BOOST_TEST(st.version() == 0u);
  BOOST_REQUIRE_EQUAL(st.channel_size(), 2);
  BOOST_TEST(st.channel(0).kind() == "keyboard");
  BOOST_TEST(st.channel(1).kind() == "blob");
  for (const auto& ch : st.channel()) {
    BOOST_TEST(ch.relid() == 0u);
    BOOST_TEST(ch.state() == "none");
    BOOST_TEST(ch.ring() == "closed");
    BOOST_TEST(ch.text() == "relid=none channel=none " + ch.model());
  }
  BOOST_TEST(st.channel(1).model().find("kind=blob state=closed delay_ms=0") == 0u, st.channel(1).model());
  // The text answer is the same state, spelled as one line.
  BOOST_TEST(host.command("state") ==
             "ok session=none | " + st.channel(0).text() + " | " + st.channel(1).text());
}

BOOST_AUTO_TEST_CASE(execute_state_with_a_guest_names_relids_and_channel_words) {
  vh::testing::GuestRam ram;
  auto region = vscsim::transport::SharedRegion::create(vscsim::transport::layout::kMinRegionSize, 0);
  region.reset_for_guest(1);
  auto made = vh::make_devices({"keyboard"});
  BOOST_REQUIRE(made.ok());
  vh::Host host(ram.path(), std::move(made).value());
  BOOST_REQUIRE(host.guest_connected(vh::Bar2::of(region), [](std::uint16_t) {}).ok());
  const vc::State st = state_of(host);
  BOOST_TEST(st.session_up());
  BOOST_TEST(st.connection() == "disconnected");
  BOOST_REQUIRE_EQUAL(st.channel_size(), 1);
  BOOST_TEST(st.channel(0).relid() == 1u);
  BOOST_TEST(st.channel(0).state() == "unoffered");
  BOOST_TEST(st.channel(0).ring() == "closed");
  BOOST_TEST(st.channel(0).text().find("relid=1 channel=unoffered ring=closed kind=keyboard") == 0u,
             st.channel(0).text());
  // Channel commands reach the session, which refuses what the state forbids.
  const vc::Response reoffer = host.execute(channel_request(&vc::Request::mutable_reoffer, 1));
  BOOST_TEST(!reoffer.ok());
  BOOST_TEST(!reoffer.error().empty());
  BOOST_TEST(host.execute(channel_request(&vc::Request::mutable_fail_open, 1)).ok());
}

BOOST_AUTO_TEST_CASE(execute_channel_commands_without_a_guest) {
  auto host = make_host({"keyboard"});
  const vc::Response rescind = host.execute(channel_request(&vc::Request::mutable_rescind, 1));
  BOOST_TEST(!rescind.ok());
  BOOST_TEST(rescind.error() == "no guest connected");
  BOOST_TEST(host.execute(channel_request(&vc::Request::mutable_reoffer, 1)).error() == "no guest connected");
  const vc::Response pending = host.execute(channel_request(&vc::Request::mutable_fail_open, 1));
  BOOST_TEST(pending.ok());
  BOOST_TEST(pending.note() == "pending for the next guest");
  BOOST_TEST(host.command("fail-open 1") == "ok pending for the next guest");
}

BOOST_AUTO_TEST_CASE(execute_key_needs_a_keyboard_and_an_open_channel) {
  vc::Request key;
  key.mutable_key()->set_scancode(0x1e);
  key.mutable_key()->set_action(vc::Key::DOWN);
  auto none = make_host({"blob"});
  BOOST_TEST(none.execute(key).error() == "no keyboard offered (--device keyboard)");
  auto host = make_host({"keyboard"});
  const vc::Response closed = host.execute(key);
  BOOST_TEST(!closed.ok());
  BOOST_TEST(closed.error().find("keyboard is closed") == 0u, closed.error());
}

BOOST_AUTO_TEST_CASE(execute_blob_commands_name_the_relid_they_refuse) {
  auto host = make_host({"keyboard", "blob"});
  vc::Request delay;
  delay.mutable_blob_delay()->set_relid(2);
  delay.mutable_blob_delay()->set_ms(300);
  delay.mutable_blob_delay()->set_late(true);
  BOOST_TEST(host.execute(delay).ok());
  BOOST_TEST(state_of(host).channel(1).model().find("delay_ms=300 (late)") != std::string::npos);
  delay.mutable_blob_delay()->set_relid(1);
  BOOST_TEST(host.execute(delay).error() == "relid 1 is not a blob device");

  vc::Request inject;
  inject.mutable_blob_inject()->set_relid(2);
  inject.mutable_blob_inject()->set_trans_id(7);
  BOOST_TEST(host.execute(inject).error() == "the channel is not open");
  inject.mutable_blob_inject()->set_payload_bytes(0);
  BOOST_TEST(host.execute(inject).error() == "the channel is not open");
  inject.mutable_blob_inject()->set_relid(3);
  BOOST_TEST(host.execute(inject).error() == "relid 3 is not a blob device");

  BOOST_TEST(host.execute(blob_drop(2, 2, 1)).ok());
  BOOST_TEST(state_of(host).channel(1).model().find(" drop=2 after=1") != std::string::npos);
  BOOST_TEST(host.execute(blob_drop(2, 0, 0)).ok());  // cancelled
  BOOST_TEST(state_of(host).channel(1).model().find(" drop=") == std::string::npos);
  const vc::Response refused = host.execute(blob_drop(9, 1, 0));
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.error() == "relid 9 is not a blob device");
  BOOST_TEST(!refused.has_state());
}

BOOST_AUTO_TEST_CASE(execute_trace_commands_and_an_empty_request) {
  auto host = make_host({"blob"});
  const auto path = std::filesystem::temp_directory_path() / ("host-exec-" + std::to_string(::getpid()) + ".jsonl");
  vc::Request dump;
  dump.mutable_trace_dump()->set_path(path.string());
  const vc::Response a = host.execute(dump);
  BOOST_TEST(a.ok());
  BOOST_TEST(a.trace_dump().events() == 0u);
  BOOST_TEST(a.trace_dump().dropped() == 0u);
  BOOST_TEST(std::filesystem::exists(path));
  std::filesystem::remove(path);
  dump.mutable_trace_dump()->set_path("/nonexistent/dir/t.jsonl");
  BOOST_TEST(host.execute(dump).error().find("cannot write") == 0u);
  dump.mutable_trace_dump()->clear_path();
  BOOST_TEST(host.execute(dump).error() == "trace-dump needs a path");
  vc::Request clear;
  clear.mutable_trace_clear();
  BOOST_TEST(host.execute(clear).ok());
  vc::Request nothing;
  nothing.set_id(5);
  const vc::Response empty = host.execute(nothing);
  BOOST_TEST(empty.id() == 5u);
  BOOST_TEST(!empty.ok());
  BOOST_TEST(empty.error() == "no command in the request");
}

BOOST_AUTO_TEST_CASE(blob_drop_text_command_sets_and_cancels_the_drop) {
  auto host = make_host({"keyboard", "blob"});
  BOOST_TEST(host.command("help").find("blob-drop") != std::string::npos);
  BOOST_TEST(host.command("blob-drop 2 2 1") == "ok");
  BOOST_TEST(host.command("state").find("withheld=0 store_bytes=0 drop=2 after=1") != std::string::npos,
             host.command("state"));
  BOOST_TEST(host.command("blob-drop 2 3") == "ok");
  BOOST_TEST(host.command("state").find(" drop=3 after=0") != std::string::npos, host.command("state"));
  BOOST_TEST(host.command("blob-drop 2 0") == "ok");
  BOOST_TEST(host.command("state").find(" drop=") == std::string::npos);
  BOOST_TEST(host.command("blob-drop 1 1") == "error relid 1 is not a blob device");
  BOOST_TEST(host.command("blob-drop 2") == "error usage: blob-drop <relid> <count> [<after>]");
  BOOST_TEST(host.command("blob-drop 2 1 2 3") == "error usage: blob-drop <relid> <count> [<after>]");
  BOOST_TEST(host.command("blob-drop x 1") == "error 'x' is not a relid");
  BOOST_TEST(host.command("blob-drop 2 many") == "error 'many' is not a count");
  BOOST_TEST(host.command("blob-drop 2 1 later") == "error 'later' is not a number of requests");
}

BOOST_AUTO_TEST_CASE(blob_reset_empties_the_store_of_the_blob_at_a_relid) {
  auto host = make_host({"keyboard", "blob"});
  auto& blob = dynamic_cast<vscsim::devices::Blob&>(*host.devices()[1]);
  BOOST_REQUIRE(blob.store().create_container("c").ok());
  BOOST_REQUIRE(blob.store().create_container("d").ok());
  const std::byte bytes[3]{};
  BOOST_REQUIRE(blob.store().put("c", "b", bytes).ok());
  BOOST_REQUIRE(blob.store().put("c", "e", bytes).ok());
  vc::Request reset;
  reset.mutable_blob_reset()->set_relid(2);
  const vc::Response done = host.execute(reset);
  BOOST_TEST(done.ok(), done.error());
  BOOST_TEST(blob.store().object_count() == 0u);
  BOOST_TEST(blob.store().used_bytes() == 0u);
  BOOST_REQUIRE(blob.store().create_container("c").ok());  // usable again
  BOOST_TEST(host.command("blob-reset 2") == "ok");
  BOOST_TEST(blob.store().object_count() == 0u);
  BOOST_TEST(host.command("blob-reset 1") == "error relid 1 is not a blob device");
  BOOST_TEST(host.command("blob-reset") == "error usage: blob-reset <relid>");
  BOOST_TEST(host.command("help").find("blob-reset") != std::string::npos);
}

namespace {

vc::Response add(vh::Host& host, const vc::FaultRule& rule) {
  vc::Request r;
  r.set_id(9);
  *r.mutable_add_fault() = rule;
  return host.execute(r);
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

BOOST_AUTO_TEST_CASE(action_names_are_the_fault_rule_field_names) {
  BOOST_TEST(vh::action_name(vc::FaultRule::kDelayMs) == "delay_ms");
  BOOST_TEST(vh::action_named("withhold_interrupts") == vc::FaultRule::kWithholdInterrupts);
  BOOST_TEST(vh::action_named("relid") == vc::FaultRule::ACTION_NOT_SET);  // not an action
  BOOST_TEST(vh::action_named("nonsense") == vc::FaultRule::ACTION_NOT_SET);
}

BOOST_AUTO_TEST_CASE(add_fault_answers_an_id_and_state_lists_the_rule_per_channel) {
  auto host = make_host({"keyboard", "blob"});
  vc::FaultRule rule;
  rule.set_relid(2);
  rule.mutable_duplicate();
  rule.set_count(3);
  const vc::Response a = add(host, rule);
  BOOST_TEST(a.ok());
  BOOST_TEST(a.id() == 9u);
  BOOST_TEST(a.fault_id() == 1u);
  vc::FaultRule any;
  any.mutable_stop_draining()->set_ms(5);
  BOOST_TEST(add(host, any).fault_id() == 2u);

  vc::Request q;
  q.mutable_state();
  const vc::State st = host.execute(q).state();
  BOOST_TEST(st.channel(0).fault_size() == 0);
  BOOST_REQUIRE_EQUAL(st.channel(1).fault_size(), 1);
  BOOST_TEST(st.channel(1).fault(0).id() == 1u);
  BOOST_TEST(st.channel(1).fault(0).rule().count() == 3u);
  BOOST_TEST(st.channel(1).fault(0).text() == "#1 duplicate relid=2 count=3 hits=0");
  BOOST_REQUIRE_EQUAL(st.any_channel_fault_size(), 1);
  const std::string line = host.command("state");
  BOOST_TEST(line.find("faults=[#1 duplicate relid=2 count=3 hits=0]") != std::string::npos, line);
  BOOST_TEST(line.find("| faults(any relid)=[#2 stop_draining relid=0 ms=5 hits=0]") != std::string::npos, line);

  vc::Request l;
  l.mutable_list_faults();
  const vc::Response listed = host.execute(l);
  BOOST_TEST(listed.faults().fault_size() == 2);
}

BOOST_AUTO_TEST_CASE(add_fault_refuses_what_the_device_or_the_values_cannot_do) {
  auto host = make_host({"keyboard", "blob"});
  const auto refused = [&](const vc::FaultRule& r, std::string_view why) {
    const vc::Response a = add(host, r);
    BOOST_TEST(!a.ok());
    BOOST_TEST(a.fault_id() == 0u);
    BOOST_TEST(a.error().find(why) != std::string::npos, a.error());
  };
  vc::FaultRule r;
  refused(r, "no action");
  r.set_relid(7);
  r.mutable_drop();
  refused(r, "no device at relid 7");
  r.set_relid(1);
  refused(r, "keyboard device: it sends no completions, so no drop");
  r.set_relid(2);
  r.set_truncate(12);
  refused(r, "fewer bytes than the 12-byte completion");
  r.mutable_corrupt()->set_offset(12);
  r.mutable_corrupt()->set_xor_mask(1);
  refused(r, "offset 12 is past");
  r.mutable_corrupt()->set_offset(0);
  r.mutable_corrupt()->set_xor_mask(0);
  refused(r, "xor mask of 1 to 255");
  r.mutable_oversize_response_len()->set_response_len(100);
  refused(r, "fits a buffer");
  r.set_spray_interrupts(0);
  refused(r, "1 to 64 signals");
  r.set_rescind_after_in_flight(0);
  refused(r, "at least 1 request");
  r.mutable_stop_draining();
  r.set_trans_id(5);
  refused(r, "stop_draining matches no transaction id");
  // Channel and ring actions work on any device.
  vc::FaultRule k;
  k.set_relid(1);
  k.mutable_withhold_interrupts();
  BOOST_TEST(add(host, k).ok());
  BOOST_TEST(host.faults().rules().size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_engine_holds_at_most_kmaxrules) {
  vh::FaultEngine engine;
  vc::FaultRule r;
  r.mutable_drop();
  for (std::size_t i = 0; i < vh::FaultEngine::kMaxRules; ++i) BOOST_REQUIRE(engine.add(r).ok());
  auto over = engine.add(r);
  BOOST_REQUIRE(!over.ok());
  BOOST_TEST(over.error().find("clear some first") != std::string::npos);
  BOOST_TEST(engine.clear(0) == vh::FaultEngine::kMaxRules);
  BOOST_TEST(engine.add(r).ok());
}

BOOST_AUTO_TEST_CASE(a_fail_status_of_zero_means_status_unsuccessful) {
  vh::FaultEngine engine;
  vc::FaultRule r;
  r.mutable_fail_open();
  BOOST_REQUIRE(engine.add(r).ok());
  BOOST_TEST(engine.rules().front().rule.fail_open().status() == vscsim::server::kStatusUnsuccessful);
}

BOOST_AUTO_TEST_CASE(text_fault_commands_add_list_and_clear_rules) {
  auto host = make_host({"blob", "blob"});
  BOOST_TEST(host.command("fault duplicate 1 count=2 after=1") == "ok fault_id=1");
  BOOST_TEST(host.command("fault wrong_id 2 kind=stale id=0x10") == "ok fault_id=2");
  BOOST_TEST(host.command("fault corrupt 1 offset=4") == "ok fault_id=3");
  BOOST_TEST(host.command("fault fail_gpadl 0") == "ok fault_id=4");
  BOOST_TEST(host.command("faults") ==
             "ok | #1 duplicate relid=1 after=1 count=2 hits=0 | #2 wrong_id relid=2 kind=STALE id=16 hits=0"
             " | #3 corrupt relid=1 offset=4 xor=0xff hits=0 | #4 fail_gpadl relid=0 status=0xc0000001 hits=0");
  BOOST_TEST(host.command("fault-clear 1") == "ok cleared=2");
  BOOST_TEST(host.command("fault-clear") == "ok cleared=2");
  BOOST_TEST(host.command("faults") == "ok");
  const std::string help = host.command("help");
  BOOST_TEST(help.find(" fault faults fault-clear ") != std::string::npos, help);
}

BOOST_AUTO_TEST_CASE(text_flood_rule_takes_its_ms_and_lists_it) {
  auto host = make_host({"blob"});
  BOOST_TEST(host.command("fault flood_ms 1 ms=6000 id=1 count=1") == "ok fault_id=1");
  BOOST_TEST(host.command("faults") == "ok | #1 flood_ms relid=1 ms=6000 count=1 id=1 hits=0");
  BOOST_TEST(host.faults().rules().front().rule.flood_ms() == 6000u);
}

BOOST_AUTO_TEST_CASE(text_rule_matches_on_an_operation_the_device_names) {
  auto host = make_host({"blob", "keyboard"});
  BOOST_TEST(host.command("fault delay_ms 1 ms=800 op=get") == "ok fault_id=1");
  BOOST_TEST(host.command("faults") == "ok | #1 delay_ms relid=1 ms=800 op=get hits=0");
  const std::string typo = host.command("fault drop 1 op=gett");
  BOOST_TEST(typo.find("no operation 'gett' (create_container, delete_container, put, get, list, stat, delete)") !=
                 std::string::npos,
             typo);
  const std::string keyboard = host.command("fault drop 2 op=get");
  BOOST_TEST(starts_with(keyboard, "error "), keyboard);
  const std::string not_completion = host.command("fault rescind_on_close 1 op=get");
  BOOST_TEST(not_completion.find("matches no operation") != std::string::npos, not_completion);
  BOOST_TEST(host.faults().rules().size() == 1u);
}

BOOST_AUTO_TEST_CASE(text_fault_commands_refuse_bad_words) {
  auto host = make_host({"keyboard", "blob"});
  const auto error = [&](std::string_view line, std::string_view why) {
    const std::string a = host.command(line);
    BOOST_TEST(starts_with(a, "error "), a);
    BOOST_TEST(a.find(why) != std::string::npos, a);
  };
  error("fault", "usage: fault <action> <relid>");
  error("fault explode 2", "'explode' is not a fault action");
  error("fault drop x", "'x' is not a relid");
  error("fault drop 2 count=4294967296", "'4294967296' is not a number for count");
  error("fault drop 2 count=1 count=2", "'count' given twice");
  error("fault drop 2 ms=4", "drop takes no key 'ms'");
  error("fault drop 2 junk", "'junk' is not key=value");
  error("fault wrong_id 2 kind=old", "'old' is not zero, unknown or stale");
  error("fault drop 9", "no device at relid 9");
  error("fault delay_ms 2", "delay_ms needs at least 1 ms");
  error("fault flood_ms 2", "flood_ms needs 1 to 600000 ms");
  error("fault flood_ms 2 ms=600001", "flood_ms needs 1 to 600000 ms");
  error("fault flood_ms 1 ms=100", "keyboard device");
  error("fault truncate 1 bytes=4", "keyboard device");
  error("fault truncate 2 bytes=40", "fewer bytes than the 12-byte completion");
  error("fault-clear 1 2", "usage: fault-clear [relid]");
  error("faults now", "usage: faults");
  BOOST_TEST(host.faults().empty());
  static_assert(std::numeric_limits<std::uint32_t>::max() == 4294967295u);
}
