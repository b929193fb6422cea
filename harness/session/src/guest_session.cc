#include "vscsim/session/guest_session.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "vscsim/boot/boot.h"
#include "vscsim/report/run_report.h"

namespace vscsim::session {

using namespace std::chrono_literals;

namespace {

constexpr auto kControlTimeout = 10s;
constexpr auto kAgentHelloTimeout = 60s;
constexpr auto kChannelOpenTimeout = 20s;

bool has_all(std::string_view text, const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (text.find(w) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::string override_guest_path(std::string_view module) {
  return fmt::format("{}{}.ko", kGuestOverridePrefix, module);
}

std::string boot_key(const scenario::Setup& setup) {
  std::string key;
  for (const auto& d : setup.device()) key += d.kind() + ",";
  bool transport = false;
  for (const auto& m : setup.module()) transport = transport || m == kTransportModule;
  key += transport ? "|transport" : "|no-transport";
  for (const auto& [k, v] : setup.param()) {
    if (k.starts_with(std::string(kTransportModule) + ".")) key += fmt::format("|{}={}", k, v);
  }
  return key;
}

std::vector<std::string> driver_modules(const scenario::Setup& setup) {
  std::vector<std::string> out;
  for (const auto& m : setup.module()) {
    if (m != kTransportModule) out.push_back(m);
  }
  return out;
}

std::string module_params(const scenario::Setup& setup, std::string_view module) {
  // setup.param is a map: sort for a stable order.
  std::set<std::pair<std::string, std::string>> sorted(setup.param().begin(), setup.param().end());
  std::string out;
  const std::string prefix = std::string(module) + ".";
  for (const auto& [k, v] : sorted) {
    if (!k.starts_with(prefix)) continue;
    if (!out.empty()) out += ' ';
    out += k.substr(prefix.size()) + "=" + v;
  }
  return out;
}

std::uint32_t relid_of(const scenario::Setup& setup, std::string_view device) {
  for (int i = 0; i < setup.device_size(); ++i) {
    if (setup.device(i).name() == device) return static_cast<std::uint32_t>(i + 1);
  }
  return 0;
}

Result<std::unique_ptr<GuestSession>, std::string> GuestSession::start(const SessionConfig& config,
                                                                       const scenario::Setup& setup) {
  std::unique_ptr<GuestSession> s(new GuestSession());
  s->key_ = boot_key(setup);
  s->module_override_ = config.module_override;
  const auto t0 = std::chrono::steady_clock::now();

  boot::BootRequest req;
  req.launch.kernel = config.kernel;
  req.launch.initrd = config.initrd;
  req.launch.firmware = config.firmware;
  req.launch.accel = config.accel;
  req.launch.backend = config.backend;
  req.launch.name = config.name;
  req.launch.deadline = config.lifetime;
  req.launch.kernel_args = config.kernel_args;
  req.launch.kernel_args.push_back("vscsim.agent=1");
  req.launch.user_network = config.user_network;
  req.ready_timeout = config.boot_timeout;
  for (const auto& m : setup.module()) {
    if (m != kTransportModule) continue;
    req.modules.push_back(m);
    std::set<std::pair<std::string, std::string>> sorted(setup.param().begin(), setup.param().end());
    for (const auto& [k, v] : sorted) {
      if (k.starts_with(m + ".")) req.module_params.push_back(k + "=" + v);
    }
  }
  std::vector<std::string> sim_args;
  for (const auto& d : setup.device()) {
    sim_args.push_back("--device");
    sim_args.push_back(d.kind());
  }
  sim_args.insert(sim_args.end(), config.sim_extra_args.begin(), config.sim_extra_args.end());
  req.launch.before_qemu_starts = [&](const launcher::BeforeQemuStarts& at) {
    s->sim_ = std::make_unique<simctl::SimProcess>(config.vsp_sim_binary, at.run_dir, at.ram_path, sim_args);
    return std::vector<launcher::IvshmemDoorbell>{{s->sim_->socket(), simctl::SimProcess::kIvshmemVectors}};
  };

  boot::BootOutcome boot;
  try {
    boot = boot::boot_until_ready(req);
  } catch (const std::exception& e) {
    return Err(fmt::format("the guest could not be started: {}", e.what()));
  }
  s->guest_ = std::move(boot.guest);
  if (!s->guest_) return Err(fmt::format("the guest could not be started: {}", boot.report.error()));
  if (config.keep_run_dirs) s->guest_->keep_run_dir();
  if (!boot.report.ok()) {
    s->guest_->keep_run_dir();
    return Err(fmt::format("the guest did not boot cleanly: {} (run folder kept: {})\nconsole tail:\n{}",
                           boot.report.error(), s->guest_->run_dir().string(),
                           report::console_excerpt(s->guest_->console(), 20)));
  }

  auto control = s->sim_->control(kControlTimeout);
  if (!control.ok()) return Err("vsp-sim's control socket: " + control.error());
  s->control_.emplace(std::move(control).value());

  auto client = agent::AgentClient::connect(s->guest_->agent_socket(), 10s);
  if (!client.ok()) return Err("the guest agent's port: " + client.error().message);
  s->agent_ = std::move(client).value();
  auto hello = s->agent_->hello(kAgentHelloTimeout);
  if (!hello.ok()) {
    s->guest_->keep_run_dir();
    return Err(fmt::format("the guest agent did not answer: {}\nconsole tail:\n{}", hello.error().message,
                           report::console_excerpt(s->guest_->console(), 20)));
  }
  s->kernel_release_ = hello->kernel_release();
  s->boot_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

GuestSession::~GuestSession() {
  if (agent_) agent_->close();
  if (guest_) guest_->stop();
}

Result<agent::OpResult, std::string> GuestSession::run_op(const agent::Op& op, std::chrono::milliseconds timeout) {
  agent::Run run;
  run.set_process("main");
  run.set_thread("harness");
  *run.mutable_op() = op;
  auto r = agent_->run(run, timeout);
  if (!r.ok()) {
    mark_broken("the guest agent: " + r.error().message);
    return Err(r.error().message);
  }
  return std::move(r).value();
}

Result<std::optional<std::string>, std::string> GuestSession::read_guest_file(const std::string& path) {
  agent::Op op;
  op.mutable_read_file()->set_path(path);
  auto r = run_op(op, 30s);
  if (!r.ok()) return Err(r.error());
  if (r->errno_name() == "ENOENT") return std::optional<std::string>();
  if (r->err() != 0) return Err(fmt::format("reading {}: {}", path, r->errno_name()));
  return std::optional<std::string>(r->data());
}

Result<void, std::string> GuestSession::reset_host(const scenario::Setup& setup) {
  auto state_of = [&]() -> Result<control::State, std::string> {
    control::Request q;
    q.mutable_state();
    auto r = control_->must(q, kControlTimeout);
    if (!r.ok()) return Err(r.error());
    return r->state();
  };
  auto st = state_of();
  if (!st.ok()) return Err(st.error());
  for (int i = 0; i < setup.device_size(); ++i) {
    const auto relid = static_cast<std::uint32_t>(i + 1);
    if (setup.device(i).kind() == "blob") {
      control::Request delay;
      delay.mutable_blob_delay()->set_relid(relid);
      if (auto r = control_->must(delay, kControlTimeout); !r.ok()) return Err(r.error());
      control::Request drop;
      drop.mutable_blob_drop()->set_relid(relid);
      if (auto r = control_->must(drop, kControlTimeout); !r.ok()) return Err(r.error());
      control::Request reset;
      reset.mutable_blob_reset()->set_relid(relid);
      if (auto r = control_->must(reset, kControlTimeout); !r.ok()) return Err(r.error());
    }
    if (i < st->channel_size() && st->channel(i).state() == "released") {
      control::Request reoffer;
      reoffer.mutable_reoffer()->set_relid(relid);
      if (auto r = control_->must(reoffer, kControlTimeout); !r.ok()) return Err(r.error());
    }
  }
  control::Request faults;
  faults.mutable_clear_faults();  // relid 0: every rule of every channel
  if (auto r = control_->must(faults, kControlTimeout); !r.ok()) return Err(r.error());
  control::Request clear;
  clear.mutable_trace_clear();
  if (auto r = control_->must(clear, kControlTimeout); !r.ok()) return Err(r.error());
  return {};
}

Result<void, std::string> GuestSession::load_drivers(const scenario::Setup& setup) {
  for (const auto& m : driver_modules(setup)) {
    std::string path = fmt::format("{}/{}.ko", kGuestModuleDir, m);
    if (auto o = module_override_.find(m); o != module_override_.end()) {
      path = override_guest_path(m);
      if (!overrides_written_.contains(m)) {
        std::ifstream in(o->second, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) return Err(fmt::format("reading {}'s override {}", m, o->second.string()));
        if (bytes.empty()) return Err(fmt::format("{}'s override {} is missing or empty", m, o->second.string()));
        agent::Op write;
        write.mutable_write_file()->set_path(path);
        write.mutable_write_file()->set_data(std::move(bytes));
        auto w = run_op(write, 60s);
        if (!w.ok()) return Err(w.error());
        if (w->err() != 0) return Err(fmt::format("writing {} in the guest: {} {}", path, w->errno_name(), w->detail()));
        overrides_written_.insert(m);
      }
    }
    agent::Op op;
    op.mutable_load_module()->set_path(path);
    op.mutable_load_module()->set_params(module_params(setup, m));
    auto r = run_op(op, 60s);
    if (!r.ok()) return Err(r.error());
    if (r->err() != 0) {
      return Err(fmt::format("insmod {} {}: {} {}", m, op.load_module().params(), r->errno_name(), r->detail()));
    }
  }
  // az_blob opens each blob channel in its probe; wait for the host to see it.
  bool blob_driver = false;
  for (const auto& m : setup.module()) blob_driver = blob_driver || m == "az_blob";
  if (!blob_driver) return {};
  const auto until = std::chrono::steady_clock::now() + kChannelOpenTimeout;
  for (;;) {
    control::Request q;
    q.mutable_state();
    auto r = control_->must(q, kControlTimeout);
    if (!r.ok()) return Err(r.error());
    bool all_open = true;
    std::string last;
    for (int i = 0; i < setup.device_size(); ++i) {
      if (setup.device(i).kind() != "blob") continue;
      const auto& ch = r->state().channel(i);
      last = ch.text();
      all_open = all_open && has_all(ch.text(), {"channel=open"});
    }
    if (all_open) return {};
    if (std::chrono::steady_clock::now() > until) {
      return Err(fmt::format("az_blob loaded but a blob channel did not open within {} s: {}",
                             std::chrono::duration_cast<std::chrono::seconds>(kChannelOpenTimeout).count(), last));
    }
    std::this_thread::sleep_for(20ms);
  }
}

bool GuestSession::healthy() {
  if (!broken_.empty()) return false;
  if (!guest_->running()) {
    mark_broken(fmt::format("QEMU ended ({})", guest_->exit_info() ? guest_->exit_info()->describe() : "?"));
    return false;
  }
  if (sim_->exited()) {
    mark_broken("vsp-sim ended; its log: " + sim_->log());
    return false;
  }
  auto hello = agent_->hello(10s);
  if (!hello.ok()) {
    mark_broken("the guest agent does not answer: " + hello.error().message);
    return false;
  }
  return true;
}

void GuestSession::keep_run_dir() { guest_->keep_run_dir(); }

}  // namespace vscsim::session
