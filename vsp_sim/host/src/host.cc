#include "vscsim/host/host.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "vscsim/base/log.h"
#include "vscsim/blobstore/directory_store.h"
#include "vscsim/blobstore/memory_store.h"
#include "vscsim/devices/blob.h"
#include "vscsim/devices/blob_vpci.h"
#include "vscsim/devices/keyboard.h"
#include "vscsim/transport/unique_fd.h"
#include "text_command.h"

namespace vscsim::host {

namespace {

Result<memory::GuestMemory, std::string> map_guest_ram(const std::string& path) {
  transport::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return Err(fmt::format("guest RAM '{}': {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Err(fmt::format("guest RAM '{}': {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    return Err(fmt::format("guest RAM '{}' is not a non-empty regular file", path));
  }
  auto layout = memory::MemoryLayout::q35(static_cast<std::uint64_t>(st.st_size));
  if (!layout.ok()) return Err(fmt::format("guest RAM '{}': {}", path, layout.error()));
  auto mem = memory::GuestMemory::map_fd(fd.get(), *layout);
  if (!mem.ok()) return Err(fmt::format("guest RAM '{}': {}", path, mem.error().describe()));
  return std::move(mem).value();
}

}  // namespace

namespace {

Result<std::unique_ptr<devices::Device>, std::string> make_blob(const DeviceOptions& options,
                                                                 std::uint8_t n) {
  const wire::Guid instance = devices::numbered_instance(devices::Blob::default_instance(), n);
  const blobstore::Limits limits{options.blob_capacity, blobstore::kDefaultMaxObjects};
  std::unique_ptr<blobstore::Store> store;
  if (options.blob_dir.empty()) {
    store = blobstore::make_memory_store(limits);
  } else {
    const auto root = std::filesystem::path(options.blob_dir) / instance.to_string();
    auto opened = blobstore::open_directory_store(root, limits);
    if (!opened.ok()) return Err(fmt::format("blob store: {}", opened.error().message));
    store = std::move(opened).value();
  }
  auto blob = std::make_unique<devices::Blob>(std::move(store), instance);
  blob->set_delay(options.blob_delay);
  return std::unique_ptr<devices::Device>(std::move(blob));
}

}  // namespace

Result<std::vector<std::unique_ptr<devices::Device>>, std::string> make_devices(
    const std::vector<std::string>& kinds, const DeviceOptions& options) {
  std::vector<std::unique_ptr<devices::Device>> out;
  std::map<std::string, unsigned> seen;  // devices of each kind so far
  for (const std::string& kind : kinds) {
    const unsigned n = seen[kind]++;
    if (n > 255) return Err(fmt::format("more than 256 devices of kind '{}'", kind));
    const auto index = static_cast<std::uint8_t>(n);
    if (kind == "keyboard") {
      out.push_back(std::make_unique<devices::Keyboard>(
          devices::numbered_instance(devices::Keyboard::default_instance(), index)));
    } else if (kind == "blob-vpci") {
      out.push_back(std::make_unique<devices::BlobVpci>());
    } else if (kind == "blob") {
      auto blob = make_blob(options, index);
      if (!blob.ok()) return Err(std::move(blob.error()));
      out.push_back(std::move(blob).value());
    } else {
      return Err(fmt::format("unknown device '{}'", kind));
    }
  }
  return out;
}

std::unique_ptr<devices::Device> make_device(std::string_view kind) {
  auto made = make_devices({std::string(kind)});
  if (!made.ok()) return nullptr;
  return std::move(made->front());
}

Host::Host(std::string guest_ram_path, std::vector<std::unique_ptr<devices::Device>> devices,
           SessionConfig config)
    : Host([path = std::move(guest_ram_path)]() -> Result<std::string, std::string> { return path; },
           std::move(devices), std::move(config)) {}

Host::Host(GuestRamLocator locate_guest_ram, std::vector<std::unique_ptr<devices::Device>> devices,
           SessionConfig config)
    : locate_guest_ram_(std::move(locate_guest_ram)),
      devices_(std::move(devices)),
      config_(std::move(config)) {
  if (config_.trace == nullptr) config_.trace = &trace_;
  config_.faults = &faults_;
}

Result<void, std::string> Host::guest_connected(const Bar2& bar2, SignalGuest signal) {
  session_.reset();
  pending_ = PendingGuest{bar2, std::move(signal)};
  last_attach_error_.clear();
  return attach_pending();
}

Result<void, std::string> Host::attach_pending() {
  auto path = locate_guest_ram_();
  if (!path.ok()) return Err(std::move(path.error()));
  auto mem = map_guest_ram(*path);
  if (!mem.ok()) return Err(std::move(mem.error()));
  const Bar2 bar2 = pending_->bar2;
  SignalGuest signal = std::move(pending_->signal);
  pending_.reset();
  std::vector<devices::Device*> devs;
  for (auto& d : devices_) devs.push_back(d.get());
  const std::uint64_t ram = mem->layout().ram_size();
  session_ = std::make_unique<Session>(std::move(mem).value(), bar2, std::move(signal), devs,
                                       next_faults_, config_);
  next_faults_.clear();
  log::logf(log::Level::kInfo, "guest RAM {} mapped ({} MiB); offering {} device(s)", *path, ram >> 20,
            devs.size());
  return {};
}

void Host::guest_disconnected() {
  session_.reset();
  pending_.reset();
}

void Host::on_guest_signal(std::uint16_t vector) {
  if (!session_ && pending_) {
    if (auto attached = attach_pending(); !attached.ok()) {
      if (attached.error() != last_attach_error_) {
        log::logf(log::Level::kError, "guest signalled but is not served: {}", attached.error());
        last_attach_error_ = attached.error();
      }
      return;
    }
  }
  if (session_) session_->on_guest_signal(vector);
}

void Host::poll() {
  if (session_) session_->poll();
}

bool Host::busy() const { return session_ && session_->busy(); }

std::optional<devices::DeviceClock::time_point> Host::next_deadline() const {
  if (!session_) return std::nullopt;
  return session_->next_deadline();
}

Result<devices::Blob*, std::string> Host::blob_at(std::uint32_t relid) const {
  if (auto* blob = dynamic_cast<devices::Blob*>(device_at(relid))) return blob;
  return Err(fmt::format("relid {} is not a blob device", relid));
}

devices::Device* Host::device_at(std::uint32_t relid) const {
  if (session_) {
    for (const auto& d : devices_) {
      if (session_->relid_of(*d) == relid) return d.get();
    }
    return nullptr;
  }
  // No session yet: relids are handed out 1, 2, ... in --device order.
  if (relid == 0 || relid > devices_.size()) return nullptr;
  return devices_[relid - 1].get();
}

Result<void, std::string> Host::check_rule(const control::FaultRule& rule) const {
  using control::FaultRule;
  const FaultAction action = rule.action_case();
  if (action == FaultRule::ACTION_NOT_SET) return Err(std::string("the rule has no action"));
  if (rule.relid() == 0) return {};  // every channel; each acts where it can
  const devices::Device* device = device_at(rule.relid());
  if (device == nullptr) return Err(fmt::format("no device at relid {}", rule.relid()));
  if (fault_class(action) != FaultClass::kCompletion) return {};
  const auto layout = device->completion_layout();
  if (!layout) {
    return Err(fmt::format("relid {} is a {} device: it sends no completions, so no {}", rule.relid(),
                           device->kind(), action_name(action)));
  }
  if (!rule.operation().empty()) {
    const auto names = device->operation_names();
    if (std::find(names.begin(), names.end(), rule.operation()) == names.end()) {
      return Err(fmt::format("relid {} is a {} device, which has no operation '{}' ({})", rule.relid(),
                             device->kind(), rule.operation(),
                             names.empty() ? std::string("it names none") : fmt::format("{}", fmt::join(names, ", "))));
    }
  }
  if (action == FaultRule::kTruncate && rule.truncate() >= layout->size) {
    return Err(fmt::format("truncate keeps fewer bytes than the {}-byte completion (0 to {})",
                           layout->size, layout->size - 1));
  }
  if (action == FaultRule::kCorrupt && !rule.corrupt().has_status() && rule.corrupt().offset() >= layout->size) {
    return Err(fmt::format("corrupt offset {} is past the {}-byte completion", rule.corrupt().offset(),
                           layout->size));
  }
  if (action == FaultRule::kOversizeResponseLen && rule.oversize_response_len().response_len() != 0 &&
      rule.oversize_response_len().response_len() <= layout->max_response_len) {
    return Err(fmt::format("response_len {} fits a buffer the guest may have given (oversize means > {}; 0: "
                           "the smallest such)",
                           rule.oversize_response_len().response_len(), layout->max_response_len));
  }
  return {};
}

void Host::fill_state(control::State& st) const {
  if (session_) {
    const auto& srv = session_->server();
    st.set_session_up(true);
    st.set_connection(lower(server::name(srv.connection_state())));
    st.set_version(srv.version().value_or(0));
    st.set_released(static_cast<std::uint32_t>(session_->stats().relids_released));
    st.set_backlog(static_cast<std::uint32_t>(session_->backlog()));
  }
  for (const auto& d : devices_) {
    control::Channel& ch = *st.add_channel();
    std::optional<std::uint32_t> relid;
    if (session_) relid = session_->relid_of(*d);
    ch.set_relid(relid.value_or(0));
    ch.set_kind(std::string(d->kind()));
    ch.set_state(relid ? session_->channel_word(*relid) : std::string("none"));
    ch.set_ring(std::string(relid ? session_->ring_word(*relid) : "closed"));
    ch.set_model(d->describe());
    // Rules name relids: without a session, relid n is the n-th device.
    const std::uint32_t rule_relid =
        relid.value_or(static_cast<std::uint32_t>(&d - devices_.data()) + 1);
    faults_.list(rule_relid, *ch.mutable_fault());
    // The text state line's part: no ring word while nothing is offered.
    ch.set_text(fmt::format("relid={} {} {}{}", relid ? std::to_string(*relid) : std::string("none"),
                            relid ? session_->describe_channel(*relid) : std::string("channel=none"),
                            ch.model(), fault_words(ch.fault(), " faults")));
  }
  faults_.list(0u, *st.mutable_any_channel_fault());
}

std::string Host::command(std::string_view line) {
  return run_text_command(line, [this](const control::Request& r) { return execute(r); });
}

control::Response Host::execute(const control::Request& request) {
  control::Response response;
  response.set_id(request.id());
  auto r = run(request, response);
  response.set_ok(r.ok());
  if (!r.ok()) {
    response.clear_detail();
    response.set_error(std::move(r.error()));
  } else if (request.command_case() != control::Request::kState) {
    control::Request what = request;
    what.clear_id();
    log::logf(log::Level::kInfo, "control: {}{}", what.ShortDebugString(),
              response.note().empty() ? "" : " (" + response.note() + ")");
  }
  return response;
}

Result<void, std::string> Host::run(const control::Request& request, control::Response& response) {
  using control::Request;
  switch (request.command_case()) {
    case Request::kState:
      fill_state(*response.mutable_state());
      return {};
    case Request::kRescind:
    case Request::kReoffer:
    case Request::kFailOpen: {
      const bool rescind = request.has_rescind();
      const bool reoffer = request.has_reoffer();
      const std::uint32_t relid = rescind   ? request.rescind().relid()
                                  : reoffer ? request.reoffer().relid()
                                            : request.fail_open().relid();
      if (!rescind && !reoffer && !session_) {
        next_faults_[relid].fail_next_open = server::kStatusUnsuccessful;
        response.set_note("pending for the next guest");
        return {};
      }
      if (!session_) return Err(std::string("no guest connected"));
      return rescind   ? session_->rescind(relid)
             : reoffer ? session_->reoffer(relid)
                       : session_->fail_next_open(relid, server::kStatusUnsuccessful);
    }
    case Request::kKey: {
      devices::Keyboard* kb = nullptr;
      for (auto& d : devices_) {
        if ((kb = dynamic_cast<devices::Keyboard*>(d.get())) != nullptr) break;
      }
      if (kb == nullptr) return Err(std::string("no keyboard offered (--device keyboard)"));
      const control::Key::Action a = request.key().action();
      const devices::KeyAction action = a == control::Key::DOWN ? devices::KeyAction::kDown
                                        : a == control::Key::UP ? devices::KeyAction::kUp
                                                                : devices::KeyAction::kPress;
      auto r = kb->key(request.key().scancode(), action);
      if (session_) session_->flush();
      return r;
    }
    case Request::kBlobDelay: {
      const control::BlobDelay& d = request.blob_delay();
      auto blob = blob_at(d.relid());
      if (!blob.ok()) return Err(std::move(blob.error()));
      (*blob)->set_delay(std::chrono::milliseconds(d.ms()),
                      d.late() ? devices::Blob::DelayMode::kIgnoreTimeout : devices::Blob::DelayMode::kHonourTimeout);
      return {};
    }
    case Request::kBlobInject: {
      const control::BlobInject& i = request.blob_inject();
      auto blob = blob_at(i.relid());
      if (!blob.ok()) return Err(std::move(blob.error()));
      auto r = (*blob)->inject_completion(
          i.trans_id(), i.has_payload_bytes() ? i.payload_bytes() : devices::blob_wire::kCompletionLength);
      if (session_) session_->flush();
      return r;
    }
    case Request::kBlobDrop: {
      const control::BlobDrop& d = request.blob_drop();
      auto blob = blob_at(d.relid());
      if (!blob.ok()) return Err(std::move(blob.error()));
      (*blob)->drop_completions(d.count(), d.after());
      return {};
    }
    case Request::kBlobReset: {
      auto blob = blob_at(request.blob_reset().relid());
      if (!blob.ok()) return Err(std::move(blob.error()));
      if (auto r = (*blob)->store().clear(); !r.ok()) return Err(r.error().message);
      return {};
    }
    case Request::kAddFault: {
      if (auto ok = check_rule(request.add_fault()); !ok.ok()) return ok;
      auto id = faults_.add(request.add_fault());
      if (!id.ok()) return Err(std::move(id.error()));
      response.set_fault_id(*id);
      return {};
    }
    case Request::kClearFaults: {
      const std::uint32_t relid = request.clear_faults().relid();
      const std::size_t n = faults_.clear(relid);
      if (session_) session_->faults_cleared(relid);
      response.set_note(fmt::format("cleared={}", n));
      return {};
    }
    case Request::kListFaults:
      faults_.list(std::nullopt, *response.mutable_faults()->mutable_fault());
      return {};
    case Request::kTraceDump: {
      if (request.trace_dump().path().empty()) return Err(std::string("trace-dump needs a path"));
      const PacketTrace& t = *config_.trace;
      if (auto r = t.write_json_lines(request.trace_dump().path()); !r.ok()) return r;
      response.mutable_trace_dump()->set_events(t.events().size());
      response.mutable_trace_dump()->set_dropped(t.dropped());
      return {};
    }
    case Request::kTraceClear:
      config_.trace->clear();
      return {};
    case Request::COMMAND_NOT_SET:
      break;
  }
  return Err(std::string("no command in the request"));
}

}  // namespace vscsim::host
