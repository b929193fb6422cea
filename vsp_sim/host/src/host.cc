#include "vscsim/host/host.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "vscsim/base/log.h"
#include "vscsim/blobstore/directory_store.h"
#include "vscsim/blobstore/memory_store.h"
#include "vscsim/devices/blob.h"
#include "vscsim/devices/blob_vpci.h"
#include "vscsim/devices/keyboard.h"
#include "vscsim/transport/unique_fd.h"

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

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// Decimal or 0x-prefixed hexadecimal, whole word, fits in 32 bits.
std::optional<std::uint32_t> parse_number(std::string_view w) {
  int base = 10;
  if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
    base = 16;
    w.remove_prefix(2);
  }
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v, base);
  if (ec != std::errc() || end != w.data() + w.size()) return std::nullopt;
  return v;
}

std::string error(std::string_view why) { return fmt::format("error {}", why); }

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
    : guest_ram_path_(std::move(guest_ram_path)),
      devices_(std::move(devices)),
      config_(std::move(config)) {
  if (config_.trace == nullptr) config_.trace = &trace_;
}

Result<void, std::string> Host::guest_connected(const Bar2& bar2, SignalGuest signal) {
  session_.reset();
  auto mem = map_guest_ram(guest_ram_path_);
  if (!mem.ok()) return Err(std::move(mem.error()));
  std::vector<devices::Device*> devs;
  for (auto& d : devices_) devs.push_back(d.get());
  const std::uint64_t ram = mem->layout().ram_size();
  session_ = std::make_unique<Session>(std::move(mem).value(), bar2, std::move(signal), devs,
                                       next_faults_, config_);
  next_faults_.clear();
  log::logf(log::Level::kInfo, "guest RAM mapped ({} MiB); offering {} device(s)", ram >> 20,
            devs.size());
  return {};
}

void Host::guest_disconnected() { session_.reset(); }

void Host::on_guest_signal(std::uint16_t vector) {
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

devices::Blob* Host::blob_at(std::uint32_t relid) const {
  return dynamic_cast<devices::Blob*>(device_at(relid));
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

std::string Host::state() const {
  std::string out = "ok";
  if (!session_) {
    out += " session=none";
  } else {
    const auto& srv = session_->server();
    const auto v = srv.version();
    out += fmt::format(" session=up connection={} version={} released={} backlog={}",
                       lower(server::name(srv.connection_state())),
                       v ? fmt::format("{}.{}", *v >> 16, *v & 0xffff) : std::string("none"),
                       session_->stats().relids_released, session_->backlog());
  }
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    const auto& d = *devices_[i];
    std::optional<std::uint32_t> relid;
    if (session_) relid = session_->relid_of(d);
    out += fmt::format(" | relid={} {}", relid ? std::to_string(*relid) : std::string("none"),
                       relid ? session_->describe_channel(*relid) : std::string("channel=none"));
    out += " " + d.describe();
  }
  return out;
}

std::string Host::command(std::string_view line) {
  const auto w = words(line);
  if (w.empty()) return error("empty command");
  const std::string_view cmd = w[0];
  if (cmd == "help") return "ok state rescind reoffer fail-open key blob-delay blob-inject trace-dump trace-clear help";
  if (cmd == "state") return state();

  if (cmd == "rescind" || cmd == "reoffer" || cmd == "fail-open") {
    if (w.size() != 2) return error(fmt::format("usage: {} <relid>", cmd));
    const auto relid = parse_number(w[1]);
    if (!relid) return error(fmt::format("'{}' is not a relid", w[1]));
    if (cmd == "fail-open" && !session_) {
      next_faults_[*relid].fail_next_open = server::kStatusUnsuccessful;
      return "ok pending for the next guest";
    }
    if (!session_) return error("no guest connected");
    Result<void, std::string> r =
        cmd == "rescind"   ? session_->rescind(*relid)
        : cmd == "reoffer" ? session_->reoffer(*relid)
                           : session_->fail_next_open(*relid, server::kStatusUnsuccessful);
    if (!r.ok()) return error(r.error());
    log::logf(log::Level::kInfo, "control: {} {}", cmd, *relid);
    return "ok";
  }

  if (cmd == "key") {
    if (w.size() < 2 || w.size() > 3) return error("usage: key <scancode> [down|up|press]");
    const auto code = parse_number(w[1]);
    if (!code) return error(fmt::format("'{}' is not a scancode", w[1]));
    devices::KeyAction action = devices::KeyAction::kPress;
    if (w.size() == 3) {
      if (w[2] == "down") {
        action = devices::KeyAction::kDown;
      } else if (w[2] == "up") {
        action = devices::KeyAction::kUp;
      } else if (w[2] != "press") {
        return error(fmt::format("'{}' is not down, up or press", w[2]));
      }
    }
    devices::Keyboard* kb = nullptr;
    for (auto& d : devices_) {
      if ((kb = dynamic_cast<devices::Keyboard*>(d.get())) != nullptr) break;
    }
    if (kb == nullptr) return error("no keyboard offered (--device keyboard)");
    auto r = kb->key(*code, action);
    if (session_) session_->flush();
    if (!r.ok()) return error(r.error());
    log::logf(log::Level::kInfo, "control: key {:#x} sent", *code);
    return "ok";
  }
  if (cmd == "blob-delay") {
    const bool late = w.size() == 4 && w[3] == "late";
    if (w.size() != 3 && !late) return error("usage: blob-delay <relid> <ms> [late]");
    const auto relid = parse_number(w[1]);
    if (!relid) return error(fmt::format("'{}' is not a relid", w[1]));
    const auto ms = parse_number(w[2]);
    if (!ms) return error(fmt::format("'{}' is not a number of milliseconds", w[2]));
    auto* blob = blob_at(static_cast<std::uint32_t>(*relid));
    if (blob == nullptr) return error(fmt::format("relid {} is not a blob device", *relid));
    blob->set_delay(std::chrono::milliseconds(*ms),
                    late ? devices::Blob::DelayMode::kIgnoreTimeout : devices::Blob::DelayMode::kHonourTimeout);
    log::logf(log::Level::kInfo, "control: blob-delay {} {} ms{}", *relid, *ms, late ? " (late: timeouts ignored)" : "");
    return "ok";
  }
  if (cmd == "trace-dump") {
    if (w.size() != 2) return error("usage: trace-dump <path>");
    const PacketTrace& t = *config_.trace;
    if (auto r = t.write_json_lines(std::string(w[1])); !r.ok()) return error(r.error());
    return fmt::format("ok {} {}", t.events().size(), t.dropped());
  }
  if (cmd == "trace-clear") {
    config_.trace->clear();
    return "ok";
  }
  if (cmd == "blob-inject") {
    if (w.size() != 3 && w.size() != 4) return error("usage: blob-inject <relid> <trans_id> [<payload_bytes>]");
    const auto relid = parse_number(w[1]);
    if (!relid) return error(fmt::format("'{}' is not a relid", w[1]));
    const auto id = parse_number(w[2]);
    if (!id) return error(fmt::format("'{}' is not a transaction id", w[2]));
    std::optional<std::uint64_t> bytes = devices::blob_wire::kCompletionLength;
    if (w.size() == 4 && !(bytes = parse_number(w[3]))) return error(fmt::format("'{}' is not a byte count", w[3]));
    auto* blob = blob_at(static_cast<std::uint32_t>(*relid));
    if (blob == nullptr) return error(fmt::format("relid {} is not a blob device", *relid));
    auto r = blob->inject_completion(*id, static_cast<std::uint32_t>(std::min<std::uint64_t>(*bytes, 64)));
    if (session_) session_->flush();
    if (!r.ok()) return error(r.error());
    log::logf(log::Level::kInfo, "control: blob-inject relid {} trans_id {} ({} bytes)", *relid, *id, *bytes);
    return "ok";
  }
  return error(fmt::format("unknown command '{}' (try help)", cmd));
}

}  // namespace vscsim::host
