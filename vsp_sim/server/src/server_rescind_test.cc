// Rescind, release and reoffer: the removal races the harness exists for.
#include "server_fixture.h"

namespace vscsim::server::testing {
namespace {

BOOST_AUTO_TEST_SUITE(server_rescind)

BOOST_AUTO_TEST_CASE(rescind_of_open_channel_waits_for_close_teardown_and_release) {
  ServerFixture f;
  f.connect_and_offer();
  const auto oc = f.open(f.blob);
  BOOST_REQUIRE(f.server.rescind(f.blob).ok());
  const auto r = f.guest.take<wire::RescindOfferMsg>(ChannelMessageType::kRescindChannelOffer);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->child_relid == f.blob);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kRevokedOpen));
  BOOST_TEST(f.server.ring(f.blob).has_value());  // still open until the guest closes
  // A second rescind is not in the table.
  BOOST_TEST(!f.server.rescind(f.blob).ok());

  // The relid is still taken: a new device gets another one.
  const auto newcomer = f.server.add_device({kOtherInterface, kOtherInstance});
  BOOST_REQUIRE(newcomer.ok());
  BOOST_TEST(*newcomer != f.blob);
  BOOST_REQUIRE(f.guest.take<wire::OfferChannelMsg>(ChannelMessageType::kOfferChannel).has_value());

  // The guest's remove path: close, teardown, release.
  BOOST_REQUIRE(f.guest.close(f.blob).ok());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kRevoked));
  BOOST_TEST(!f.server.ring(f.blob));
  BOOST_REQUIRE(f.guest.teardown_gpadl(f.blob, oc.gpadl).ok());
  BOOST_TEST(f.guest.take<wire::GpadlTorndownMsg>(ChannelMessageType::kGpadlTorndown).has_value());
  BOOST_TEST(!f.server.remove_device(f.blob).ok());  // not released yet
  BOOST_REQUIRE(f.guest.release_relid(f.blob).ok());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kReleased));
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_TEST(f.server.stats().protocol_errors == 0u);

  // Only now may the relid go to another device.
  BOOST_REQUIRE(f.server.remove_device(f.blob).ok());
  BOOST_TEST(!f.server.channel_state(f.blob));
  const auto reused = f.server.add_device({kBlobInterface, kBlobInstance});
  BOOST_REQUIRE(reused.ok());
  BOOST_TEST(*reused == f.blob);
}

BOOST_AUTO_TEST_CASE(rescind_before_open_needs_only_release) {
  ServerFixture f;
  f.connect_and_offer();
  BOOST_REQUIRE(f.server.rescind(f.blob).ok());
  BOOST_REQUIRE(f.guest.take<wire::RescindOfferMsg>(ChannelMessageType::kRescindChannelOffer).has_value());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kRevoked));
  // CLOSECHANNEL on a channel that was never open is not in the table.
  auto c = f.guest.close(f.blob);
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(c.error().kind == ProtocolError::Kind::kWrongChannelState);
  BOOST_REQUIRE(f.guest.release_relid(f.blob).ok());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kReleased));
}

BOOST_AUTO_TEST_CASE(open_racing_a_rescind_is_ignored_without_reply) {
  ServerFixture f;
  f.connect_and_offer();
  const auto pages = f.guest.alloc_pages(6);
  BOOST_REQUIRE(f.guest.create_gpadl(f.blob, 5, pages).ok());
  BOOST_REQUIRE(f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated).has_value());
  BOOST_REQUIRE(f.server.rescind(f.blob).ok());
  BOOST_REQUIRE(f.guest.take<wire::RescindOfferMsg>(ChannelMessageType::kRescindChannelOffer).has_value());
  // The guest had not seen the rescind yet.
  auto r = f.guest.open(f.blob, 1, 5, 3);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->ignored);
  auto g = f.guest.create_gpadl(f.blob, 6, pages);
  BOOST_REQUIRE(g.ok());
  BOOST_TEST(g->ignored);
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_TEST(f.server.stats().ignored_after_rescind == 2u);
  BOOST_TEST(f.server.stats().protocol_errors == 0u);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kRevoked));
  // Release drops the GPADL the guest never tore down.
  BOOST_REQUIRE(f.guest.release_relid(f.blob).ok());
  BOOST_TEST(f.server.stats().gpadls_dropped_on_release == 1u);
  BOOST_TEST(f.server.gpadls(f.blob)->size() == 0u);
}

BOOST_AUTO_TEST_CASE(rescind_during_held_open_sends_no_result_and_release_frees_the_ring) {
  ServerFixture f;
  f.connect_and_offer();
  f.server.faults(f.blob)->hold_next_open = true;
  const auto pages = f.guest.alloc_pages(6);
  BOOST_REQUIRE(f.guest.create_gpadl(f.blob, 5, pages).ok());
  BOOST_REQUIRE(f.guest.take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated).has_value());
  BOOST_REQUIRE(f.guest.open(f.blob, 1, 5, 3).ok());
  BOOST_REQUIRE(f.server.rescind(f.blob).ok());
  BOOST_REQUIRE(f.guest.take<wire::RescindOfferMsg>(ChannelMessageType::kRescindChannelOffer).has_value());
  BOOST_TEST(f.guest.inbox_empty());  // no OPENCHANNEL_RESULT, ever
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kRevokedOpen));
  BOOST_TEST(!f.server.complete_open(f.blob, kStatusSuccess).ok());
  // Linux's failed vmbus_open releases without CLOSECHANNEL.
  BOOST_REQUIRE(f.guest.release_relid(f.blob).ok());
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kReleased));
  BOOST_TEST(f.server.gpadls(f.blob)->size() == 0u);
  BOOST_TEST(f.guest.inbox_empty());
}

BOOST_AUTO_TEST_CASE(reoffer_reuses_the_relid_only_after_release) {
  ServerFixture f;
  f.connect_and_offer();
  f.open(f.blob);
  BOOST_REQUIRE(f.server.rescind(f.blob).ok());
  BOOST_REQUIRE(f.guest.take<wire::RescindOfferMsg>(ChannelMessageType::kRescindChannelOffer).has_value());
  auto early = f.server.reoffer(f.blob);
  BOOST_REQUIRE(!early.ok());
  BOOST_TEST((early.error().kind == HostError::Kind::kWrongState));
  BOOST_TEST(f.guest.inbox_empty());
  BOOST_REQUIRE(f.guest.close(f.blob).ok());
  BOOST_REQUIRE(f.guest.release_relid(f.blob).ok());
  BOOST_REQUIRE(f.server.reoffer(f.blob).ok());
  const auto o = f.guest.take<wire::OfferChannelMsg>(ChannelMessageType::kOfferChannel);
  BOOST_REQUIRE(o);
  BOOST_TEST(o->child_relid == f.blob);
  BOOST_TEST((o->offer.if_type == kBlobInterface));
  BOOST_TEST((o->offer.if_instance == kBlobInstance));
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
  // The reoffered channel opens like a new one.
  f.open(f.blob);
  BOOST_TEST(f.server.stats().protocol_errors == 0u);
}

BOOST_AUTO_TEST_CASE(relid_released_without_rescind_is_rejected) {
  ServerFixture f;
  f.connect_and_offer();
  auto r = f.guest.release_relid(f.blob);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().kind == ProtocolError::Kind::kWrongChannelState);
  BOOST_TEST((f.server.channel_state(f.blob) == ChannelState::kOffered));
  BOOST_TEST(f.server.channel_errors(f.blob) == 1u);
}

BOOST_AUTO_TEST_CASE(unload_forgets_rescinded_channels) {
  ServerFixture f({}, 2);
  f.connect_and_offer();
  BOOST_REQUIRE(f.server.rescind(f.other).ok());
  BOOST_REQUIRE(f.guest.unload().ok());
  BOOST_TEST(!f.server.channel_state(f.other));
  f.guest.inbox().messages.clear();
  f.connect_and_offer();
  BOOST_REQUIRE_EQUAL(f.offers.size(), 1u);
  BOOST_TEST(f.offers[0].child_relid == f.blob);
}

BOOST_AUTO_TEST_CASE(host_calls_on_unknown_relids_fail_cleanly) {
  ServerFixture f;
  f.connect_and_offer();
  BOOST_TEST((f.server.rescind(99).error().kind == HostError::Kind::kUnknownRelid));
  BOOST_TEST((f.server.reoffer(99).error().kind == HostError::Kind::kUnknownRelid));
  BOOST_TEST((f.server.complete_open(99, 0).error().kind == HostError::Kind::kUnknownRelid));
  BOOST_TEST(f.server.faults(99) == nullptr);
  BOOST_TEST((f.server.remove_device(f.blob).error().kind == HostError::Kind::kWrongState));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::server::testing
