// The guest's half of the Azure Blob device, for tests and the fuzz target:
// guest RAM backed by a memfd, and requests laid out in it as the az_blob
// driver lays them out (data pages, then request pages, then response pages,
// each buffer starting wherever in its first page the user's buffer did),
// with the GPA-direct packet that names them. Tests only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vscsim/devices/blob_wire.h"
#include "vscsim/memory/guest_memory.h"
#include "vscsim/ring/ring.h"
#include "vscsim/wire/packet.h"

namespace vscsim::devices::testing {

// Guest RAM of `pages` 4 KiB pages at GPA 0, in a memfd.
class TestRam {
 public:
  explicit TestRam(std::uint64_t pages);
  ~TestRam();
  TestRam(const TestRam&) = delete;
  TestRam& operator=(const TestRam&) = delete;
  [[nodiscard]] const memory::GuestMemory& memory() const { return *memory_; }
  [[nodiscard]] std::uint64_t pages() const { return pages_; }

 private:
  int fd_ = -1;
  std::uint64_t pages_;
  std::optional<memory::GuestMemory> memory_;
};

// What user space hands the ioctl.
struct UserBuffers {
  std::vector<std::byte> data;       // data_len = data.size(); the first data_valid bytes are sent
  std::uint32_t data_valid = 0;
  std::string request;               // a serialized blob.Request (or anything, for bad input)
  std::uint32_t response_len = 4096;
  std::uint32_t timeout_ms = 30000;
  // Where each buffer starts in its first page (the user address mod 4096).
  std::uint32_t data_page_offset = 0;
  std::uint32_t request_page_offset = 100;
  std::uint32_t response_page_offset = 200;
};

// A request laid out in guest pages: its single whole-page range and the
// 56-byte struct that follows the range in the packet.
struct LaidOut {
  wire::ParsedGpaRange range;
  blob_wire::Request wire{};
};

// Hands out guest pages from [first_page, first_page + count), highest first,
// so that consecutive buffers sit on pages that are not adjacent in the
// order the list names them.
class BlobGuest {
 public:
  BlobGuest(const memory::GuestMemory& memory, std::uint64_t first_page, std::uint64_t count);

  // Writes the data and request bytes into fresh pages (the response pages
  // are filled with 0xAA, to see what the host wrote) and builds the wire
  // request. Pages are reused once all of them have been handed out.
  LaidOut lay_out(const UserBuffers& user);

  // Bytes of the response or data buffer as the guest sees them now.
  [[nodiscard]] std::vector<std::byte> response(const LaidOut& r, std::uint32_t length) const;
  [[nodiscard]] std::vector<std::byte> data(const LaidOut& r, std::uint64_t length) const;

 private:
  std::vector<memory::Pfn> take(std::uint64_t n);
  const memory::GuestMemory& memory_;
  std::uint64_t first_;
  std::uint64_t count_;
  std::uint64_t next_ = 0;
};

// The packet as the ring reader hands it to a model: descriptor, the range
// list, the 56-byte request (or `payload_override`), padded to 8 bytes.
std::vector<std::byte> gpa_direct_packet(std::span<const wire::ParsedGpaRange> ranges,
                                         std::span<const std::byte> payload, std::uint64_t trans_id,
                                         std::uint16_t flags = wire::kFlagCompletionRequested);
std::vector<std::byte> gpa_direct_packet(const LaidOut& r, std::uint64_t trans_id,
                                         std::uint16_t flags = wire::kFlagCompletionRequested);

// A PacketView over `bytes` (whose first 16 bytes are the descriptor).
ring::PacketView view_of(std::span<const std::byte> bytes);

}  // namespace vscsim::devices::testing
