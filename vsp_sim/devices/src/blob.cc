#include "vscsim/devices/blob.h"

#include <fmt/format.h>

#include <cstring>

#include "vscsim/base/log.h"
#include "vscsim/blobstore/executor.h"

namespace vscsim::devices {

using blob_wire::WireStatus;

Blob::Blob(std::unique_ptr<blobstore::Store> store, wire::Guid instance)
    : store_(std::move(store)), instance_(instance) {}

wire::Guid Blob::default_interface() {
  return *wire::Guid::parse("0590b792-db64-45cc-81db-b8d70c577c9e");
}

wire::Guid Blob::default_instance() {
  // The project's own; the real device's instance is per VM.
  return *wire::Guid::parse("9f3f5b1e-4b6c-4f3e-8d2a-6b1c0b10b000");
}

void Blob::open(ChannelPort& port) { port_ = &port; }

void Blob::close() {
  // A closed channel answers nothing: what waited is gone with it.
  drop_all();
  port_ = nullptr;
}

void Blob::packet(const ring::PacketView& packet) {
  const wire::VmpacketDescriptor& d = packet.descriptor;
  if (port_ == nullptr) {
    // The host hands packets only to open channels; nothing could answer.
    ++counters_.dropped;
    return;
  }
  if (d.type != static_cast<std::uint16_t>(wire::PacketType::kDataUsingGpaDirect)) {
    ++counters_.bad_packets;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "blob: ignored packet of type {}", d.type);
    return;
  }
  if ((d.flags & wire::kFlagCompletionRequested) == 0 || d.trans_id == 0) {
    // Nothing to answer with: the guest asked for no completion or gave no id.
    ++counters_.bad_packets;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning,
                           "blob: request without completion requested (flags {:#x}, id {})",
                           d.flags, d.trans_id);
    return;
  }
  ++counters_.requests;
  const bool drop = take_drop();
  auto invalid = [&](const std::string& why, std::uint32_t timeout_ms) {
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "blob: invalid request {}: {}", d.trans_id, why);
    schedule(d.trans_id, std::nullopt, WireStatus::kInvalidRequest, timeout_ms, drop);
  };
  // Don't trust guest data: the packet is the ring reader's private copy;
  // everything below is parsed from it once and checked before use.
  const wire::GpaDirectLimits limits{1, blob_wire::kMaxPages};
  auto parsed = wire::parse_gpa_direct(packet.bytes, limits);
  if (!parsed.ok()) return invalid(parsed.error().reason, 0);
  if (parsed->payload.size() < sizeof(blob_wire::Request)) {
    return invalid(fmt::format("{}-byte request (want {})", parsed->payload.size(),
                               sizeof(blob_wire::Request)),
                   0);
  }
  blob_wire::Request request{};
  std::memcpy(&request, parsed->payload.data(), sizeof request);
  auto checked = blob_wire::check_request(request, parsed->ranges.front());
  if (!checked.ok()) return invalid(checked.error(), request.timeout_ms);
  Work work{*checked, {}};
  work.pages.reserve(parsed->ranges.front().pfns.size());
  for (const std::uint64_t pfn : parsed->ranges.front().pfns) work.pages.emplace_back(pfn);
  schedule(d.trans_id, std::move(work), WireStatus::kSuccess, checked->timeout_ms, drop);
}

bool Blob::take_drop() {
  if (drop_count_ == 0) return false;
  if (drop_after_ > 0) {
    --drop_after_;
    return false;
  }
  --drop_count_;
  return true;
}

void Blob::schedule(std::uint64_t trans_id, std::optional<Work> work, WireStatus status,
                    std::uint32_t timeout_ms, bool drop) {
  const std::size_t pages = work ? work->pages.size() : 0;
  const bool delayed = delay_.count() > 0;
  if (pending() >= kMaxPending || (delayed && pages > kMaxPendingPages - delayed_pages_)) {
    ++counters_.dropped;
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "blob: request {} dropped: {} already wait",
                           trans_id, pending());
    return;
  }
  if (!delayed) {
    finish(trans_id, work, status, drop);
    flush();
    return;
  }
  const std::chrono::milliseconds timeout(timeout_ms);
  DeviceClock::time_point due = now_ + delay_;
  if (delay_mode_ == DelayMode::kHonourTimeout && timeout_ms != 0 && delay_ > timeout) {
    // The host would answer too late: it gives up at the timeout instead,
    // and the operation never runs.
    due = now_ + timeout;
    work.reset();
    status = WireStatus::kTimedOut;
  }
  if (work) delayed_pages_ += work->pages.size();
  delayed_.emplace(due, Delayed{trans_id, std::move(work), status, drop});
}

void Blob::finish(std::uint64_t trans_id, const std::optional<Work>& work, WireStatus status,
                  bool drop) {
  blob_wire::Completion c{blob_wire::kCompletionLength, static_cast<std::uint32_t>(status), 0};
  if (work) c = run(trans_id, *work);
  if (!drop) return complete(trans_id, static_cast<WireStatus>(c.error), c.response_len);
  ++counters_.withheld;
  log::logf(log::Level::kInfo, "blob: completion of request {} withheld (blob-drop)", trans_id);
  if (port_ != nullptr) port_->fault(HostFault::kDropCompletion, trans_id);
}

std::vector<std::string> Blob::operation_names() const {
  std::vector<std::string> names;
  const auto* op = blob::Request::descriptor()->FindOneofByName("op");
  for (int i = 0; i < op->field_count(); ++i) names.push_back(op->field(i)->name());
  return names;
}

blob_wire::Completion Blob::run(std::uint64_t trans_id, const Work& work) {
  const auto fail = [&](WireStatus status, const std::string& why) {
    VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "blob: {}", why);
    return blob_wire::Completion{blob_wire::kCompletionLength, static_cast<std::uint32_t>(status),
                                 0};
  };
  if (port_ == nullptr) return fail(WireStatus::kInvalidRequest, "request run with no channel");
  const memory::GuestMemory& mem = port_->guest_memory();
  // Every page must be RAM before anything runs, so that an operation never
  // takes effect and then fails to report back.
  for (const memory::Pfn pfn : work.pages) {
    const auto address = pfn.address();
    if (!address || !mem.layout().translate(*address)) {
      return fail(WireStatus::kInvalidRequest, fmt::format("page {:#x} is not RAM", pfn.value()));
    }
  }
  const blob_wire::CheckedRequest& rq = work.request;
  std::vector<std::byte> request_bytes(rq.request.length);
  if (auto r = mem.read_pages(work.pages, rq.request.offset, request_bytes); !r.ok()) {
    return fail(WireStatus::kInvalidRequest, r.error().describe());
  }
  auto decoded = blobstore::decode_request(request_bytes);
  if (!decoded.ok()) return fail(WireStatus::kInvalidRequest, decoded.error());
  if (const auto* field = blob::Request::descriptor()->FindOneofByName("op"); field != nullptr) {
    if (const auto* set = decoded->GetReflection()->GetOneofFieldDescriptor(*decoded, field)) {
      port_->name_operation(trans_id, set->name());
    }
  }
  std::vector<std::byte> input(rq.data_valid);
  if (auto r = mem.read_pages(work.pages, rq.data.offset, input); !r.ok()) {
    return fail(WireStatus::kInvalidRequest, r.error().describe());
  }
  counters_.bytes_in += input.size();
  // Only a get writes into the data buffer, and only into one the guest
  // left room in (data_valid < length: the driver pins the pages writable
  // only then); only then is host room made for it.
  std::unique_ptr<std::byte[]> output;
  std::span<std::byte> out;
  if (decoded->has_get() && rq.data_valid < rq.data.length) {
    output = std::make_unique_for_overwrite<std::byte[]>(rq.data.length);
    out = std::span<std::byte>(output.get(), rq.data.length);
  }
  const blob::Response response =
      blobstore::execute(*store_, *decoded, {input, out, rq.response.length});
  const std::size_t size = response.ByteSizeLong();
  if (size > rq.response.length) {
    return fail(WireStatus::kResponseTooSmall,
                fmt::format("{}-byte response for a {}-byte buffer", size, rq.response.length));
  }
  if (response.status() == blob::OK && response.has_get() && response.get().length() > 0) {
    const std::uint64_t n = response.get().length();
    if (n > out.size()) return fail(WireStatus::kStoreFailed, "get returned more than asked");
    if (auto r = mem.write_pages(work.pages, rq.data.offset, out.first(n)); !r.ok()) {
      return fail(WireStatus::kInvalidRequest, r.error().describe());
    }
    counters_.bytes_out += n;
  }
  const std::string serialized = response.SerializeAsString();
  if (auto r = mem.write_pages(work.pages, rq.response.offset, std::as_bytes(std::span(serialized)));
      !r.ok()) {
    return fail(WireStatus::kInvalidRequest, r.error().describe());
  }
  const WireStatus status =
      response.status() == blob::INTERNAL ? WireStatus::kStoreFailed : WireStatus::kSuccess;
  return {blob_wire::kCompletionLength, static_cast<std::uint32_t>(status),
          static_cast<std::uint32_t>(serialized.size())};
}

void Blob::complete(std::uint64_t trans_id, WireStatus status, std::uint32_t response_len) {
  if (status == WireStatus::kInvalidRequest) ++counters_.invalid;
  if (status == WireStatus::kTimedOut) ++counters_.timed_out;
  ready_.push_back(Ready{trans_id, {blob_wire::kCompletionLength,
                                    static_cast<std::uint32_t>(status), response_len}});
}

Result<void, std::string> Blob::inject_completion(std::uint64_t trans_id,
                                                 std::uint32_t payload_bytes) {
  if (port_ == nullptr) return Err(std::string("the channel is not open"));
  const blob_wire::Completion c{blob_wire::kCompletionLength,
                                static_cast<std::uint32_t>(WireStatus::kSuccess), 0};
  const auto bytes = std::as_bytes(std::span(&c, 1));
  const SendStatus sent = port_->send(wire::PacketType::kCompletion, 0, trans_id,
                                      bytes.first(std::min<std::size_t>(payload_bytes, bytes.size())));
  if (sent != SendStatus::kOk) return Err(fmt::format("not sent: ring {}", name(sent)));
  ++counters_.injected;
  return {};
}

void Blob::flush() {
  // Bounded by the queue's length: each round sends one or stops.
  while (!ready_.empty() && port_ != nullptr) {
    const Ready& r = ready_.front();
    const SendStatus sent = port_->send(wire::PacketType::kCompletion, 0, r.trans_id,
                                        std::as_bytes(std::span(&r.completion, 1)));
    if (sent == SendStatus::kFull) return;  // the port asked the guest for room: resume()
    if (sent == SendStatus::kClosed) {
      VSCSIM_LOG_RATELIMITED(log::Level::kWarning, "blob: channel unusable; {} answers dropped",
                             pending());
      drop_all();
      return;
    }
    ready_.pop_front();
    ++counters_.completions;
  }
}

void Blob::drop_all() {
  counters_.dropped += pending();
  delayed_.clear();
  delayed_pages_ = 0;
  ready_.clear();
}

std::optional<DeviceClock::time_point> Blob::next_deadline() const {
  if (delayed_.empty()) return std::nullopt;
  return delayed_.begin()->first;
}

void Blob::tick(DeviceClock::time_point now) {
  now_ = now;
  // Bounded by the number waiting (at most kMaxPending).
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    auto node = delayed_.extract(delayed_.begin());
    Delayed& d = node.mapped();
    if (d.work) delayed_pages_ -= d.work->pages.size();
    finish(d.trans_id, d.work, d.status, d.drop);
  }
  flush();
}

void Blob::resume() { flush(); }

std::string Blob::describe() const {
  const BlobCounters& c = counters_;
  return fmt::format(
      "kind=blob state={} delay_ms={}{} requests={} completions={} pending={} bad_packets={} "
      "invalid={} timed_out={} dropped={} bytes_in={} bytes_out={} injected={} withheld={} "
      "store_bytes={}{}",
      port_ != nullptr ? "open" : "closed", delay_.count(),
      delay_mode_ == DelayMode::kIgnoreTimeout ? " (late)" : "", c.requests, c.completions, pending(),
      c.bad_packets, c.invalid, c.timed_out, c.dropped, c.bytes_in, c.bytes_out, c.injected,
      c.withheld, store_->used_bytes(),
      drop_count_ > 0 ? fmt::format(" drop={} after={}", drop_count_, drop_after_) : std::string());
}

}  // namespace vscsim::devices
