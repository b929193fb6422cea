#include "blob_test_guest.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace vscsim::devices::testing {

TestRam::TestRam(std::uint64_t pages) : pages_(pages) {
  fd_ = ::memfd_create("blob-test-ram", MFD_CLOEXEC);
  if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(pages * memory::kPageSize)) != 0) {
    throw std::runtime_error("memfd for test guest RAM");
  }
  auto layout = memory::MemoryLayout::q35(pages * memory::kPageSize);
  if (!layout.ok()) throw std::runtime_error(layout.error());
  auto m = memory::GuestMemory::map_fd(fd_, *layout);
  if (!m.ok()) throw std::runtime_error(m.error().describe());
  memory_.emplace(std::move(m).value());
}

TestRam::~TestRam() {
  memory_.reset();
  if (fd_ >= 0) ::close(fd_);
}

BlobGuest::BlobGuest(const memory::GuestMemory& memory, std::uint64_t first_page,
                     std::uint64_t count)
    : memory_(memory), first_(first_page), count_(count) {}

std::vector<memory::Pfn> BlobGuest::take(std::uint64_t n) {
  std::vector<memory::Pfn> out;
  for (std::uint64_t i = 0; i < n; ++i) {
    out.emplace_back(first_ + count_ - 1 - (next_ % count_));
    ++next_;
  }
  return out;
}

namespace {
std::uint64_t pages_for(std::uint32_t page_offset, std::uint64_t bytes) {
  if (bytes == 0) return 0;
  return (page_offset + bytes + memory::kPageSize - 1) / memory::kPageSize;
}
void must(const Result<void, memory::MemoryError>& r) {
  if (!r.ok()) throw std::runtime_error(r.error().describe());
}
}  // namespace

LaidOut BlobGuest::lay_out(const UserBuffers& u) {
  const std::uint64_t n_data = pages_for(u.data_page_offset, u.data.size());
  const std::uint64_t n_request = pages_for(u.request_page_offset, u.request.size());
  const std::uint64_t n_response = pages_for(u.response_page_offset, u.response_len);
  std::vector<memory::Pfn> pages = take(n_data + n_request + n_response);

  LaidOut r;
  r.wire.version = blob_wire::kVersion;
  r.wire.timeout_ms = u.timeout_ms;
  r.wire.data_buffer_offset = u.data.empty() ? 0 : u.data_page_offset;
  r.wire.data_buffer_length = static_cast<std::uint32_t>(u.data.size());
  r.wire.data_buffer_valid = u.data_valid;
  r.wire.operation_type = blob_wire::kOpUserRequest;
  r.wire.request_buffer_offset =
      static_cast<std::uint32_t>(n_data * memory::kPageSize + u.request_page_offset);
  r.wire.request_buffer_length = static_cast<std::uint32_t>(u.request.size());
  r.wire.response_buffer_offset =
      static_cast<std::uint32_t>((n_data + n_request) * memory::kPageSize + u.response_page_offset);
  r.wire.response_buffer_length = u.response_len;
  for (std::size_t i = 0; i < sizeof r.wire.transaction_id; ++i) {
    r.wire.transaction_id[i] = static_cast<std::uint8_t>(0xc0 + i);
  }

  must(memory_.write_pages(pages, r.wire.data_buffer_offset, u.data));
  must(memory_.write_pages(pages, r.wire.request_buffer_offset,
                           std::as_bytes(std::span(u.request))));
  const std::vector<std::byte> fill(u.response_len, std::byte{0xaa});
  must(memory_.write_pages(pages, r.wire.response_buffer_offset, fill));

  r.range.byte_offset = 0;
  r.range.byte_count = static_cast<std::uint32_t>(pages.size() * memory::kPageSize);
  for (const auto pfn : pages) r.range.pfns.push_back(pfn.value());
  return r;
}

std::vector<std::byte> BlobGuest::response(const LaidOut& r, std::uint32_t length) const {
  std::vector<memory::Pfn> pages(r.range.pfns.begin(), r.range.pfns.end());
  std::vector<std::byte> out(length);
  must(memory_.read_pages(pages, r.wire.response_buffer_offset, out));
  return out;
}

std::vector<std::byte> BlobGuest::data(const LaidOut& r, std::uint64_t length) const {
  std::vector<memory::Pfn> pages(r.range.pfns.begin(), r.range.pfns.end());
  std::vector<std::byte> out(length);
  must(memory_.read_pages(pages, r.wire.data_buffer_offset, out));
  return out;
}

std::vector<std::byte> gpa_direct_packet(std::span<const wire::ParsedGpaRange> ranges,
                                         std::span<const std::byte> payload, std::uint64_t trans_id,
                                         std::uint16_t flags) {
  std::vector<std::byte> out(sizeof(wire::GpaDirectHeader));
  for (const auto& range : ranges) {
    const wire::GpaRange gr{range.byte_count, range.byte_offset};
    const auto* p = reinterpret_cast<const std::byte*>(&gr);
    out.insert(out.end(), p, p + sizeof gr);
    const auto* pf = reinterpret_cast<const std::byte*>(range.pfns.data());
    out.insert(out.end(), pf, pf + range.pfns.size() * sizeof(std::uint64_t));
  }
  const std::size_t header = out.size();
  out.insert(out.end(), payload.begin(), payload.end());
  out.resize((out.size() + 7) / 8 * 8);
  wire::GpaDirectHeader h{};
  h.d.type = static_cast<std::uint16_t>(wire::PacketType::kDataUsingGpaDirect);
  h.d.offset8 = static_cast<std::uint16_t>(header / 8);
  h.d.len8 = static_cast<std::uint16_t>(out.size() / 8);
  h.d.flags = flags;
  h.d.trans_id = trans_id;
  h.range_count = static_cast<std::uint32_t>(ranges.size());
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

std::vector<std::byte> gpa_direct_packet(const LaidOut& r, std::uint64_t trans_id,
                                         std::uint16_t flags) {
  return gpa_direct_packet(std::span(&r.range, 1), std::as_bytes(std::span(&r.wire, 1)), trans_id,
                           flags);
}

ring::PacketView view_of(std::span<const std::byte> bytes) {
  ring::PacketView v{};
  std::memcpy(&v.descriptor, bytes.data(), sizeof v.descriptor);
  v.bytes = bytes;
  return v;
}

}  // namespace vscsim::devices::testing
