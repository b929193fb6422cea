// Test fixture: a Server over a test guest's memfd-backed RAM, with devices
// registered and helpers to reach a given protocol point.
#pragma once

#include <boost/test/unit_test.hpp>

#include "test_guest_client.h"
#include "vscsim/server/server.h"

namespace vscsim::server::testing {

using wire::ChannelMessageType;

inline wire::Guid guid(const char* text) { return wire::Guid::parse(text).value(); }

// The Azure Blob interface (DESIGN.md section 5) and a second device.
inline const wire::Guid kBlobInterface = guid("0590b792-db64-45cc-81db-b8d70c577c9e");
inline const wire::Guid kBlobInstance = guid("11111111-2222-3333-4444-555555555555");
inline const wire::Guid kOtherInterface = guid("f8615163-df3e-46c5-913f-f2d2f965ed0e");
inline const wire::Guid kOtherInstance = guid("66666666-7777-8888-9999-aaaaaaaaaaaa");

struct ServerFixture {
  explicit ServerFixture(ServerConfig config = {}, int devices = 1)
      : server(guest.memory(), guest.inbox(), std::move(config)) {
    guest.attach(server);
    if (devices >= 1) blob = server.add_device({kBlobInterface, kBlobInstance}).value();
    if (devices >= 2) other = server.add_device({kOtherInterface, kOtherInstance}).value();
  }

  // Connects and collects the offers: the state every channel test starts from.
  void connect_and_offer() {
    BOOST_REQUIRE(guest.connect().has_value());
    std::string error;
    offers = guest.request_offers_and_collect(&error);
    BOOST_REQUIRE_MESSAGE(error.empty(), error);
  }

  TestGuestClient::OpenChannel open(std::uint32_t relid) {
    auto oc = guest.open_channel(relid);
    BOOST_REQUIRE_MESSAGE(oc.ok(), (oc.ok() ? std::string() : oc.error()));
    BOOST_REQUIRE_EQUAL(oc->open_status, kStatusSuccess);
    return *oc;
  }

  std::uint64_t errors(ProtocolError::Kind kind) const {
    const auto it = server.stats().errors_by_kind.find(kind);
    return it == server.stats().errors_by_kind.end() ? 0 : it->second;
  }

  TestGuestClient guest;
  Server server;
  std::uint32_t blob = 0;
  std::uint32_t other = 0;
  std::vector<wire::OfferChannelMsg> offers;
};

}  // namespace vscsim::server::testing
