#include "vscsim/host/host.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

#include "vscsim/base/log.h"
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

std::unique_ptr<devices::Device> make_device(std::string_view kind) {
  if (kind == "keyboard") return std::make_unique<devices::Keyboard>();
  if (kind == "blob-vpci") return std::make_unique<devices::BlobVpci>();
  return nullptr;
}

Host::Host(std::string guest_ram_path, std::vector<std::unique_ptr<devices::Device>> devices,
           SessionConfig config)
    : guest_ram_path_(std::move(guest_ram_path)),
      devices_(std::move(devices)),
      config_(std::move(config)) {}

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
  if (cmd == "help") return "ok state rescind reoffer fail-open key help";
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
  return error(fmt::format("unknown command '{}' (try help)", cmd));
}

}  // namespace vscsim::host
