#define BOOST_TEST_MODULE blob_vpci_test
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "vscsim/devices/blob_vpci.h"

namespace vd = vscsim::devices;

namespace {

struct NullPort : vd::ChannelPort {
  vd::SendStatus send(vscsim::wire::PacketType, std::uint16_t, std::uint64_t,
                      std::span<const std::byte>) override {
    ++sends;
    return vd::SendStatus::kOk;
  }
  // blob-vpci never reads guest memory.
  const vscsim::memory::GuestMemory& guest_memory() const override { std::abort(); }
  int sends = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(blob_vpci_is_offered_with_the_vpci_interface_and_the_blob_instance) {
  const vd::BlobVpci d;
  BOOST_TEST(d.kind() == "blob-vpci");
  BOOST_TEST(d.interface_type().to_string() == "44c4f61d-4444-4400-9d52-802e27ede19f");
  BOOST_TEST(d.instance().to_string() == "d4573da2-2caa-4711-a8f9-bbabf4ee9685");
  // The guest compares guid_t bytes: the first three groups little-endian.
  const std::array<std::uint8_t, 16> instance{0xa2, 0x3d, 0x57, 0xd4, 0xaa, 0x2c, 0x11, 0x47,
                                              0xa8, 0xf9, 0xbb, 0xab, 0xf4, 0xee, 0x96, 0x85};
  const std::array<std::uint8_t, 16> interface{0x1d, 0xf6, 0xc4, 0x44, 0x44, 0x44, 0x00, 0x44,
                                               0x9d, 0x52, 0x80, 0x2e, 0x27, 0xed, 0xe1, 0x9f};
  BOOST_TEST(d.instance().bytes == instance);
  BOOST_TEST(d.interface_type().bytes == interface);
  BOOST_TEST(d.describe() == "kind=blob-vpci opens=0 packets=0");
}

BOOST_AUTO_TEST_CASE(blob_vpci_answers_nothing_and_counts_an_unexpected_open) {
  vd::BlobVpci d;
  NullPort port;
  d.open(port);
  d.packet(vscsim::ring::PacketView{});
  d.close();
  BOOST_TEST(port.sends == 0);
  BOOST_TEST(d.opens() == 1u);
  BOOST_TEST(d.packets() == 1u);
  BOOST_TEST(d.describe() == "kind=blob-vpci opens=1 packets=1");
}
