// Fuzzes GPADL assembly: a GPADL_HEADER then GPADL_BODY messages, all from
// the input. Whatever the guest sends, a GPADL that completes must be
// consistent: every range non-empty and starting inside its first page, each
// range owning exactly the pages it spans, the page cap honoured, and every
// page inside guest RAM.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "vscsim/gpadl/gpadl.h"

using namespace vscsim;

namespace {

// Next message from the input: one length byte, then that many bytes (at
// most 240), with the message type forced so the parser gets past the header.
bool next_message(const std::uint8_t*& p, const std::uint8_t* end, wire::ChannelMessageType type,
                  std::vector<std::byte>& out) {
  if (p == end) return false;
  const std::size_t want = std::min<std::size_t>(*p++, wire::kMaxMessagePayload);
  const std::size_t have = std::min<std::size_t>(want, static_cast<std::size_t>(end - p));
  out.assign(reinterpret_cast<const std::byte*>(p), reinterpret_cast<const std::byte*>(p) + have);
  p += have;
  if (out.size() >= 4) {
    const auto t = static_cast<std::uint32_t>(type);
    std::memcpy(out.data(), &t, sizeof t);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // 8 MiB low, 8 MiB above 4 GiB: pfns in the hole or past RAM must be refused.
  static const auto layout = memory::MemoryLayout::split(16u << 20, 8u << 20).value();
  const gpadl::Limits limits{64, 4, wire::kMaxMessagePayload, 8};
  const std::uint8_t* p = data;
  const std::uint8_t* end = data + size;

  std::vector<std::byte> msg;
  if (!next_message(p, end, wire::ChannelMessageType::kGpadlHeader, msg)) return 0;
  auto started = gpadl::Assembler::begin(msg, layout, limits);
  if (!started.ok()) return 0;
  auto& assembler = started.value();
  if (assembler.announced_pages() > limits.max_pages_per_gpadl) std::abort();

  for (int bodies = 0; bodies < 64 && !assembler.complete(); ++bodies) {
    if (!next_message(p, end, wire::ChannelMessageType::kGpadlBody, msg)) return 0;
    if (!assembler.add_body(msg, layout).ok()) return 0;
  }
  if (!assembler.complete()) return 0;

  const gpadl::Gpadl g = assembler.take();
  std::size_t pages = 0;
  for (std::size_t i = 0; i < g.ranges().size(); ++i) {
    const auto& r = g.ranges()[i];
    if (r.byte_count == 0 || r.byte_offset >= 4096) std::abort();
    const std::uint64_t spanned = (std::uint64_t{r.byte_offset} + r.byte_count + 4095) / 4096;
    if (r.page_count != spanned || g.range_pfns(i).size() != spanned) std::abort();
    pages += r.page_count;
  }
  if (pages != g.page_count() || pages > limits.max_pages_per_gpadl) std::abort();
  for (const auto pfn : g.pfns()) {
    const auto t = layout.translate(memory::GuestAddress(pfn.value() * memory::kPageSize));
    if (!t || t->contiguous < memory::kPageSize) std::abort();
  }
  return 0;
}
