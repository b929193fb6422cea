#include <boost/test/unit_test.hpp>

#include <set>
#include <utility>

#include "vscsim/server/states.h"

namespace vscsim::server {
namespace {

constexpr ChannelState kAllStates[] = {
    ChannelState::kUnoffered, ChannelState::kOffered,  ChannelState::kOpening,
    ChannelState::kOpen,      ChannelState::kRevokedOpen, ChannelState::kRevoked,
    ChannelState::kReleased,  ChannelState::kRemoved};

BOOST_AUTO_TEST_SUITE(server_states)

BOOST_AUTO_TEST_CASE(transition_table_has_one_row_per_state_and_event) {
  std::set<std::pair<ChannelState, ChannelEvent>> seen;
  for (const auto& t : kChannelTransitions) {
    BOOST_TEST(seen.insert({t.from, t.event}).second, name(t.from) << " x " << name(t.event));
  }
}

BOOST_AUTO_TEST_CASE(removed_is_terminal) {
  for (const auto& t : kChannelTransitions) BOOST_TEST((t.from != ChannelState::kRemoved));
}

BOOST_AUTO_TEST_CASE(every_live_state_has_an_unload_row) {
  for (const auto s : kAllStates) {
    if (s == ChannelState::kRemoved) continue;
    BOOST_TEST(next_state(s, ChannelEvent::kUnload).has_value(), name(s));
  }
}

BOOST_AUTO_TEST_CASE(relid_is_freed_only_through_release_or_unload) {
  // The only ways into Released or Removed: RelidReleased, Unload, Remove
  // (which needs Released or Unoffered).
  for (const auto& t : kChannelTransitions) {
    if (t.to == ChannelState::kReleased) BOOST_TEST((t.event == ChannelEvent::kRelidReleased));
  }
  BOOST_TEST(!next_state(ChannelState::kRevoked, ChannelEvent::kRemove));
  BOOST_TEST(!next_state(ChannelState::kRevoked, ChannelEvent::kOffer));
  BOOST_TEST(!next_state(ChannelState::kOffered, ChannelEvent::kRelidReleased));
}

BOOST_AUTO_TEST_CASE(unlisted_transitions_are_rejected) {
  BOOST_TEST(!next_state(ChannelState::kOffered, ChannelEvent::kClose));
  BOOST_TEST(!next_state(ChannelState::kOpen, ChannelEvent::kOpenAccepted));
  BOOST_TEST(!next_state(ChannelState::kRevoked, ChannelEvent::kRescind));
  BOOST_TEST(!next_state(ChannelState::kOpening, ChannelEvent::kClose));
  BOOST_TEST((next_state(ChannelState::kOpen, ChannelEvent::kRescind) ==
              ChannelState::kRevokedOpen));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace vscsim::server
