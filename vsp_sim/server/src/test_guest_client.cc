#include "test_guest_client.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

namespace vscsim::server::testing {

using wire::ChannelMessageType;

TestGuestClient::TestGuestClient(std::uint64_t low_pages, std::uint64_t high_pages)
    : low_pages_(low_pages), high_pages_(high_pages) {
  fd_ = memfd_create("test-guest-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("memfd_create failed");
  const std::uint64_t size = (low_pages + high_pages) * memory::kPageSize;
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) throw std::runtime_error("ftruncate failed");
  auto layout = memory::MemoryLayout::split(size, low_pages * memory::kPageSize);
  if (!layout.ok()) throw std::runtime_error(layout.error());
  auto m = memory::GuestMemory::map_fd(fd_, *layout);
  if (!m.ok()) throw std::runtime_error(m.error().describe());
  mem_.emplace(std::move(m).value());
}

TestGuestClient::~TestGuestClient() {
  mem_.reset();
  if (fd_ >= 0) ::close(fd_);
}

std::vector<memory::Pfn> TestGuestClient::alloc_pages(std::size_t n) {
  constexpr std::uint64_t kHighBase = memory::kFourGiB >> memory::kPageShift;
  std::vector<memory::Pfn> out;
  for (std::size_t i = 0; i < n; ++i) {
    const bool high = (alloc_high_next_ && next_high_ < high_pages_) || next_low_ >= low_pages_;
    if (high && next_high_ >= high_pages_) throw std::runtime_error("test guest out of pages");
    out.push_back(high ? memory::Pfn(kHighBase + next_high_++) : memory::Pfn(next_low_++));
    alloc_high_next_ = !alloc_high_next_;
  }
  return out;
}

TestGuestClient::Reply TestGuestClient::send(std::span<const std::byte> message) {
  if (server_ == nullptr) std::abort();  // test bug: attach() first
  return server_->handle_message(message);
}

TestGuestClient::Reply TestGuestClient::initiate_contact(std::uint32_t version) {
  wire::InitiateContactMsg m{};
  m.header.msgtype = ChannelMessageType::kInitiateContact;
  m.vmbus_version_requested = version;
  m.target_vcpu = 0;
  m.interrupt_page = 2;  // from 5.0: the message SINT (VMBUS_MESSAGE_SINT) in the low byte
  return send_struct(m);
}

TestGuestClient::Reply TestGuestClient::request_offers() {
  wire::RequestOffersMsg m{};
  m.header.msgtype = ChannelMessageType::kRequestOffers;
  return send_struct(m);
}

TestGuestClient::Reply TestGuestClient::create_gpadl(std::uint32_t relid, std::uint32_t handle,
                                                     std::span<const memory::Pfn> pages,
                                                     const gpadl::EncodeOptions& options) {
  const auto msgs = gpadl::encode_gpadl_pages(relid, handle, pages, options);
  Reply last = Err(ProtocolError{ProtocolError::Kind::kMalformed, relid, std::nullopt, "none"});
  for (const auto& m : msgs) {
    last = send(m);
    if (!last.ok()) break;
  }
  return last;
}

TestGuestClient::Reply TestGuestClient::open(std::uint32_t relid, std::uint32_t openid,
                                             std::uint32_t gpadl,
                                             std::uint32_t downstream_page_offset) {
  wire::OpenChannelMsg m{};
  m.header.msgtype = ChannelMessageType::kOpenChannel;
  m.child_relid = relid;
  m.openid = openid;
  m.ringbuffer_gpadlhandle = gpadl;
  m.target_vp = 0;
  m.downstream_ringbuffer_pageoffset = downstream_page_offset;
  return send_struct(m);
}

TestGuestClient::Reply TestGuestClient::close(std::uint32_t relid) {
  wire::CloseChannelMsg m{};
  m.header.msgtype = ChannelMessageType::kCloseChannel;
  m.child_relid = relid;
  return send_struct(m);
}

TestGuestClient::Reply TestGuestClient::teardown_gpadl(std::uint32_t relid, std::uint32_t handle) {
  wire::GpadlTeardownMsg m{};
  m.header.msgtype = ChannelMessageType::kGpadlTeardown;
  m.child_relid = relid;
  m.gpadl = handle;
  return send_struct(m);
}

TestGuestClient::Reply TestGuestClient::release_relid(std::uint32_t relid) {
  wire::RelidReleasedMsg m{};
  m.header.msgtype = ChannelMessageType::kRelidReleased;
  m.child_relid = relid;
  return send_struct(m);
}

TestGuestClient::Reply TestGuestClient::unload() {
  wire::UnloadMsg m{};
  m.header.msgtype = ChannelMessageType::kUnload;
  return send_struct(m);
}

std::vector<ChannelMessageType> TestGuestClient::inbox_types() const {
  std::vector<ChannelMessageType> out;
  for (const auto& m : inbox_.messages) {
    wire::ChannelMessageHeader h{};
    if (m.size() >= sizeof h) std::memcpy(&h, m.data(), sizeof h);
    out.push_back(h.msgtype);
  }
  return out;
}

std::optional<std::uint32_t> TestGuestClient::connect() {
  for (const std::uint32_t v : kLinuxVersions) {
    if (!initiate_contact(v).ok()) return std::nullopt;
    const auto r = take<wire::VersionResponseMsg>(ChannelMessageType::kVersionResponse);
    if (!r) return std::nullopt;
    if (r->version_supported) return v;
  }
  return std::nullopt;
}

std::vector<wire::OfferChannelMsg> TestGuestClient::request_offers_and_collect(std::string* error) {
  std::vector<wire::OfferChannelMsg> offers;
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return std::vector<wire::OfferChannelMsg>{};
  };
  if (!request_offers().ok()) return fail("REQUESTOFFERS rejected");
  // Bounded by the inbox length.
  while (!inbox_empty()) {
    if (auto o = take<wire::OfferChannelMsg>(ChannelMessageType::kOfferChannel)) {
      offers.push_back(*o);
      continue;
    }
    if (take<wire::AllOffersDeliveredMsg>(ChannelMessageType::kAllOffersDelivered)) return offers;
    return fail("unexpected message among offers");
  }
  return fail("no ALLOFFERS_DELIVERED");
}

Result<TestGuestClient::OpenChannel, std::string> TestGuestClient::open_channel(
    std::uint32_t relid, std::uint32_t g2h_data, std::uint32_t h2g_data) {
  OpenChannel oc{};
  oc.pages = alloc_pages(2 + g2h_data + h2g_data);
  oc.downstream_page_offset = 1 + g2h_data;
  oc.gpadl = next_gpadl_handle();
  auto r = create_gpadl(relid, oc.gpadl, oc.pages);
  if (!r.ok()) return Err("GPADL rejected: " + r.error().describe());
  const auto created = take<wire::GpadlCreatedMsg>(ChannelMessageType::kGpadlCreated);
  if (!created) return Err(std::string("no GPADL_CREATED"));
  if (created->gpadl != oc.gpadl || created->child_relid != relid) {
    return Err(std::string("GPADL_CREATED for another GPADL"));
  }
  if (created->creation_status != 0) {
    return Err(fmt::format("GPADL_CREATED status {:#x}", created->creation_status));
  }
  const std::uint32_t openid = next_openid_++;
  r = open(relid, openid, oc.gpadl, oc.downstream_page_offset);
  if (!r.ok()) return Err("OPENCHANNEL rejected: " + r.error().describe());
  const auto result = take<wire::OpenResultMsg>(ChannelMessageType::kOpenChannelResult);
  if (!result) return Err(std::string("no OPENCHANNEL_RESULT"));
  if (result->child_relid != relid || result->openid != openid) {
    return Err(std::string("OPENCHANNEL_RESULT for another open"));
  }
  oc.open_status = result->status;
  return oc;
}

Result<void, std::string> TestGuestClient::close_channel(std::uint32_t relid, std::uint32_t gpadl) {
  auto r = close(relid);
  if (!r.ok()) return Err("CLOSECHANNEL rejected: " + r.error().describe());
  r = teardown_gpadl(relid, gpadl);
  if (!r.ok()) return Err("GPADL_TEARDOWN rejected: " + r.error().describe());
  const auto t = take<wire::GpadlTorndownMsg>(ChannelMessageType::kGpadlTorndown);
  if (!t || t->gpadl != gpadl) return Err(std::string("no GPADL_TORNDOWN"));
  return {};
}

}  // namespace vscsim::server::testing
