// An offer-only device: the Azure Blob device's companion virtual-PCI channel
// (facts in README.md). The host offers it next to the real devices; a guest
// is expected to leave it alone. The model answers nothing: if a guest opens
// the channel anyway, the open and any packet are only counted (and shown by
// describe()), so a test can tell the guest touched what it should ignore.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vscsim/devices/device.h"

namespace vscsim::devices {

class BlobVpci final : public Device {
 public:
  // Hyper-V virtual PCI bus interface type.
  static wire::Guid default_interface();
  // The fixed instance Azure uses for the Blob device's companion channel.
  static wire::Guid default_instance();

  [[nodiscard]] std::string_view kind() const override { return "blob-vpci"; }
  [[nodiscard]] wire::Guid interface_type() const override { return default_interface(); }
  [[nodiscard]] wire::Guid instance() const override { return default_instance(); }

  void open(ChannelPort& port) override;
  void packet(const ring::PacketView& packet) override;
  void close() override;
  [[nodiscard]] std::string describe() const override;

  [[nodiscard]] std::uint32_t opens() const { return opens_; }
  [[nodiscard]] std::uint64_t packets() const { return packets_; }

 private:
  std::uint32_t opens_ = 0;
  std::uint64_t packets_ = 0;
};

}  // namespace vscsim::devices
