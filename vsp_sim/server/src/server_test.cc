#define BOOST_TEST_MODULE server_test
#include "server_fixture.h"

namespace vscsim::server::testing {
namespace {

BOOST_AUTO_TEST_SUITE(server_connection)

BOOST_AUTO_TEST_CASE(linux_guest_is_refused_5_3_and_settles_on_5_2) {
  ServerFixture f;
  BOOST_REQUIRE(f.guest.initiate_contact(wire::kVersionWin10V5_3).ok());
  auto r = f.guest.take<wire::VersionResponseMsg>(ChannelMessageType::kVersionResponse);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->version_supported == 0);
  BOOST_TEST((f.server.connection_state() == ConnectionState::kDisconnected));
  BOOST_REQUIRE(f.guest.initiate_contact(wire::kVersionWin10V5_2).ok());
  r = f.guest.take<wire::VersionResponseMsg>(ChannelMessageType::kVersionResponse);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->version_supported == 1);
  BOOST_TEST(r->msg_conn_id == kMessageConnectionId4);
  BOOST_TEST((f.server.connection_state() == ConnectionState::kConnected));
  BOOST_TEST(f.server.version().value() == wire::kVersionWin10V5_2);
  BOOST_TEST(f.server.stats().protocol_errors == 0u);
}

BOOST_AUTO_TEST_CASE(negotiation_loop_retries_until_a_supported_version) {
  ServerConfig c;
  c.versions = {wire::kVersionWin10};  // 4.0 only: the guest walks down four versions
  ServerFixture f(c);
  BOOST_TEST(f.guest.connect().value() == wire::kVersionWin10);
  BOOST_TEST(f.server.stats().messages == 6u);  // 5.3, 5.2, 5.1, 5.0, 4.1, 4.0
}

BOOST_AUTO_TEST_CASE(no_common_version_leaves_the_connection_down) {
  ServerConfig c;
  c.versions = {wire::make_version(9, 9)};
  ServerFixture f(c);
  BOOST_TEST(!f.guest.connect().has_value());
  BOOST_TEST((f.server.connection_state() == ConnectionState::kDisconnected));
  BOOST_TEST(!f.guest.request_offers().ok());
}

BOOST_AUTO_TEST_CASE(second_initiate_contact_while_connected_is_rejected) {
  ServerFixture f;
  BOOST_REQUIRE(f.guest.connect());
  auto r = f.guest.initiate_contact(wire::kVersionWin10V5_2);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ProtocolError::Kind::kWrongConnectionState);
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_TEST((f.server.connection_state() == ConnectionState::kConnected));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_offers)

BOOST_AUTO_TEST_CASE(two_devices_are_offered_with_their_guids_then_all_offers_delivered) {
  ServerFixture f({}, 2);
  f.connect_and_offer();
  BOOST_REQUIRE_EQUAL(f.offers.size(), 2u);
  BOOST_TEST(f.offers[0].child_relid == f.blob);
  BOOST_TEST((f.offers[0].offer.if_type == kBlobInterface));
  BOOST_TEST((f.offers[0].offer.if_instance == kBlobInstance));
  BOOST_TEST(f.offers[1].child_relid == f.other);
  BOOST_TEST((f.offers[1].offer.if_type == kOtherInterface));
  BOOST_TEST((f.offers[1].offer.if_instance == kOtherInstance));
  BOOST_TEST(f.blob != f.other);
  BOOST_TEST(f.blob != wire::kInvalidRelid);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
  BOOST_TEST((f.server.connection_state() == ConnectionState::kOffersDelivered));
}

BOOST_AUTO_TEST_CASE(device_added_after_offers_is_offered_at_once) {
  ServerFixture f;
  f.connect_and_offer();
  const auto relid = f.server.add_device({kOtherInterface, kOtherInstance});
  BOOST_REQUIRE(relid.ok());
  const auto o = f.guest.take<wire::OfferChannelMsg>(ChannelMessageType::kOfferChannel);
  BOOST_REQUIRE(o);
  BOOST_TEST(o->child_relid == *relid);
  BOOST_TEST((f.server.channel_state(*relid) == ChannelState::kOffered));
}

BOOST_AUTO_TEST_CASE(second_request_offers_is_rejected) {
  ServerFixture f;
  f.connect_and_offer();
  auto r = f.guest.request_offers();
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ProtocolError::Kind::kWrongConnectionState);
  BOOST_TEST(f.guest.inbox_empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_open_close)

BOOST_AUTO_TEST_CASE(open_with_multi_message_gpadl_exposes_ring_pages_and_split) {
  ServerFixture f;
  f.connect_and_offer();
  // 1 + 60 and 1 + 62 pages: 124 pages = header (26) + 4 bodies (28, 28, 28, 14).
  auto pages = f.guest.alloc_pages(124);
  const std::uint32_t handle = f.guest.next_gpadl_handle();
  const auto msgs = gpadl::encode_gpadl_pages(f.blob, handle, pages);
  BOOST_REQUIRE_EQUAL(msgs.size(), 5u);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    BOOST_REQUIRE(f.guest.send(msgs[i]).ok());
    // No GPADL_CREATED until the last body.
    BOOST_TEST(f.guest.inbox_empty() == (i + 1 < msgs.size()));
  }
  const auto created = f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated);
  BOOST_REQUIRE(created);
  BOOST_TEST(created->gpadl == handle);
  BOOST_TEST(created->child_relid == f.blob);
  BOOST_TEST(created->creation_status == kStatusSuccess);

  BOOST_REQUIRE(f.guest.open(f.blob, 42, handle, 61).ok());
  const auto result = f.guest.take<wire::OpenResultMsg>(ChannelMessageType::kOpenChannelResult);
  BOOST_REQUIRE(result);
  BOOST_TEST(result->status == kStatusSuccess);
  BOOST_TEST(result->openid == 42u);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOpen));
  const auto ring = f.server.ring(f.blob);
  BOOST_REQUIRE(ring);
  BOOST_TEST(ring->gpadl_handle == handle);
  BOOST_TEST(ring->downstream_page_offset == 61u);
  BOOST_TEST(std::equal(ring->pages.begin(), ring->pages.end(), pages.begin(), pages.end()));
  BOOST_TEST(f.guest.inbox().opened == std::vector<std::uint32_t>{f.blob});
  BOOST_TEST(f.guest.inbox().last_ring_split == 61u);
}

BOOST_AUTO_TEST_CASE(open_refused_by_injected_failure_reports_the_status_and_stays_offered) {
  ServerFixture f;
  f.connect_and_offer();
  f.server.faults(f.blob)->fail_next_open = 0xC000009A;
  auto oc = f.guest.open_channel(f.blob);
  BOOST_REQUIRE(oc.ok());
  BOOST_TEST(oc->open_status == 0xC000009Au);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
  BOOST_TEST(!f.server.ring(f.blob));
  BOOST_TEST(f.guest.inbox().opened.empty());
  // The guest tears down the ring GPADL at once (not in use: answered now).
  BOOST_REQUIRE(f.guest.teardown_gpadl(f.blob, oc->gpadl).ok());
  BOOST_TEST(f.guest.take<wire::GpadlTorndownMsg>(ChannelMessageType::kGpadlTorndown).has_value());
  // The fault fired once: the next open succeeds.
  f.open(f.blob);
  BOOST_TEST(f.server.stats().protocol_errors == 0u);
}

BOOST_AUTO_TEST_CASE(gpadl_refused_by_injected_failure_is_dropped) {
  ServerFixture f;
  f.connect_and_offer();
  f.server.faults(f.blob)->fail_next_gpadl = kStatusUnsuccessful;
  const auto pages = f.guest.alloc_pages(40);
  BOOST_REQUIRE(f.guest.create_gpadl(f.blob, 77, pages).ok());
  const auto created = f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated);
  BOOST_REQUIRE(created);
  BOOST_TEST(created->creation_status == kStatusUnsuccessful);
  BOOST_TEST(!f.server.gpadls(f.blob)->contains(77));
  // Open on the dropped GPADL fails.
  BOOST_TEST(!f.guest.open(f.blob, 1, 77, 3).ok());
  const auto result = f.guest.take<wire::OpenResultMsg>(ChannelMessageType::kOpenChannelResult);
  BOOST_REQUIRE(result);
  BOOST_TEST(result->status != kStatusSuccess);
}

BOOST_AUTO_TEST_CASE(close_then_reopen_gives_a_fresh_ring) {
  ServerFixture f;
  f.connect_and_offer();
  const auto first = f.open(f.blob);
  BOOST_REQUIRE(f.guest.close_channel(f.blob, first.gpadl).ok());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
  BOOST_TEST(!f.server.ring(f.blob));
  BOOST_TEST(f.server.gpadls(f.blob)->size() == 0u);
  BOOST_TEST(f.guest.inbox().closing == std::vector<std::uint32_t>{f.blob});
  const auto second = f.open(f.blob);
  BOOST_TEST(second.gpadl != first.gpadl);
  BOOST_REQUIRE(f.server.ring(f.blob));
  BOOST_TEST((f.server.ring(f.blob)->pages[0] == second.pages[0]));
  BOOST_TEST(f.server.stats().protocol_errors == 0u);
}

BOOST_AUTO_TEST_CASE(teardown_of_the_ring_before_close_is_answered_only_after_close) {
  // Rule (as Hyper-V and OpenVMM behave): a GPADL in use as the ring of an
  // open channel is not torn down under the channel. The teardown is accepted
  // and deferred; the ring keeps working; CLOSECHANNEL releases the ring and
  // GPADL_TORNDOWN follows.
  ServerFixture f;
  f.connect_and_offer();
  const auto oc = f.open(f.blob);
  BOOST_REQUIRE(f.guest.teardown_gpadl(f.blob, oc.gpadl).ok());
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_TEST((f.server.gpadls(f.blob)->state(oc.gpadl) == gpadl::State::kTearingDown));
  BOOST_REQUIRE(f.server.ring(f.blob));  // still usable by the ring
  // A second teardown of the same GPADL is a protocol error.
  auto again = f.guest.teardown_gpadl(f.blob, oc.gpadl);
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST((again.error().gpadl_kind == gpadl::ErrorKind::kAlreadyTearingDown));
  // Reopening on the dying GPADL is impossible after close.
  BOOST_REQUIRE(f.guest.close(f.blob).ok());
  const auto t = f.guest.take<wire::GpadlTorndownMsg>(ChannelMessageType::kGpadlTorndown);
  BOOST_REQUIRE(t);
  BOOST_TEST(t->gpadl == oc.gpadl);
  BOOST_TEST(!f.server.gpadls(f.blob)->contains(oc.gpadl));
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
}

BOOST_AUTO_TEST_CASE(buffer_gpadl_created_after_open_tears_down_at_once) {
  ServerFixture f;
  f.connect_and_offer();
  f.open(f.blob);
  const auto pages = f.guest.alloc_pages(60);
  const std::uint32_t handle = f.guest.next_gpadl_handle();
  BOOST_REQUIRE(f.guest.create_gpadl(f.blob, handle, pages).ok());
  BOOST_TEST(f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated).has_value());
  BOOST_REQUIRE(f.guest.teardown_gpadl(f.blob, handle).ok());
  BOOST_TEST(f.guest.take<wire::GpadlTorndownMsg>(ChannelMessageType::kGpadlTorndown).has_value());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOpen));
}

BOOST_AUTO_TEST_CASE(held_open_answers_only_when_the_host_completes_it) {
  ServerFixture f;
  f.connect_and_offer();
  f.server.faults(f.blob)->hold_next_open = true;
  const auto pages = f.guest.alloc_pages(6);
  BOOST_REQUIRE(f.guest.create_gpadl(f.blob, 5, pages).ok());
  BOOST_REQUIRE(f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated).has_value());
  BOOST_REQUIRE(f.guest.open(f.blob, 9, 5, 3).ok());
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOpening));
  BOOST_TEST(!f.server.ring(f.blob));
  BOOST_REQUIRE(f.server.complete_open(f.blob, kStatusSuccess).ok());
  const auto r = f.guest.take<wire::OpenResultMsg>(ChannelMessageType::kOpenChannelResult);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->openid == 9u);
  BOOST_TEST(r->status == kStatusSuccess);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOpen));
  BOOST_TEST(!f.server.complete_open(f.blob, kStatusSuccess).ok());  // nothing held now
}

BOOST_AUTO_TEST_CASE(held_open_completed_with_failure_releases_the_ring) {
  ServerFixture f;
  f.connect_and_offer();
  f.server.faults(f.blob)->hold_next_open = true;
  const auto pages = f.guest.alloc_pages(6);
  BOOST_REQUIRE(f.guest.create_gpadl(f.blob, 5, pages).ok());
  BOOST_REQUIRE(f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated).has_value());
  BOOST_REQUIRE(f.guest.open(f.blob, 9, 5, 3).ok());
  BOOST_REQUIRE(f.server.complete_open(f.blob, kStatusUnsuccessful).ok());
  const auto r = f.guest.take<wire::OpenResultMsg>(ChannelMessageType::kOpenChannelResult);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == kStatusUnsuccessful);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
  BOOST_TEST(f.server.gpadls(f.blob)->use_count(5) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_unload)

BOOST_AUTO_TEST_CASE(unload_answers_resets_channels_and_allows_a_new_connection) {
  ServerFixture f({}, 2);
  f.connect_and_offer();
  f.open(f.blob);
  const auto pages = f.guest.alloc_pages(40);
  BOOST_REQUIRE(f.guest.create_gpadl(f.other, 1234, pages).ok());
  BOOST_REQUIRE(f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated).has_value());
  BOOST_REQUIRE(f.guest.unload().ok());
  BOOST_TEST(f.guest.take<wire::UnloadResponseMsg>(ChannelMessageType::kUnloadResponse).has_value());
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_TEST((f.server.connection_state() == ConnectionState::kDisconnected));
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kUnoffered));
  BOOST_TEST(f.server.gpadls(f.blob)->size() == 0u);
  BOOST_TEST(f.server.gpadls(f.other)->size() == 0u);
  BOOST_TEST(f.guest.inbox().closing == std::vector<std::uint32_t>{f.blob});
  // Nothing but INITIATE_CONTACT is accepted now.
  BOOST_TEST(!f.guest.close(f.blob).ok());
  BOOST_TEST(!f.guest.unload().ok());
  // A new guest kernel connects and sees the same devices, same relids.
  f.connect_and_offer();
  BOOST_REQUIRE_EQUAL(f.offers.size(), 2u);
  BOOST_TEST(f.offers[0].child_relid == f.blob);
  f.open(f.blob);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::server::testing
