#include "vscsim/devices/blob_vpci.h"

#include <fmt/format.h>

#include "vscsim/base/log.h"

namespace vscsim::devices {

wire::Guid BlobVpci::default_interface() {
  // HV_PCIE_GUID (Linux include/linux/hyperv.h).
  return *wire::Guid::parse("44c4f61d-4444-4400-9d52-802e27ede19f");
}

wire::Guid BlobVpci::default_instance() {
  return *wire::Guid::parse("d4573da2-2caa-4711-a8f9-bbabf4ee9685");
}

void BlobVpci::open(ChannelPort&) {
  ++opens_;
  log::logf(log::Level::kWarning, "blob-vpci: the guest opened an offer-only channel (open #{})", opens_);
}

void BlobVpci::packet(const ring::PacketView&) { ++packets_; }

void BlobVpci::close() {}

std::string BlobVpci::describe() const {
  return fmt::format("kind=blob-vpci opens={} packets={}", opens_, packets_);
}

}  // namespace vscsim::devices
