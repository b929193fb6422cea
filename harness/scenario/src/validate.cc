#include "validate.h"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <utility>

#include "vscsim/blob.pb.h"
#include "vscsim/scenario/errno_names.h"

namespace vscsim::scenario::detail {

void Findings::error(const FieldPath& field, std::string message) {
  errors.push_back(make(field, std::move(message), LoadError::Severity::kError));
}

void Findings::warning(const FieldPath& field, std::string message) {
  warnings.push_back(make(field, std::move(message), LoadError::Severity::kWarning));
}

LoadError Findings::make(const FieldPath& field, std::string message,
                         LoadError::Severity severity) const {
  const auto where = locate(tree_, *Scenario::descriptor(), field);
  return LoadError{path_, where.line, where.column, field.str(), std::move(message), severity};
}

namespace {

using agent::Op;

// Names people write and files, lanes and filters carry: [a-z0-9_-]+.
bool is_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (const auto item : items) out += (out.empty() ? "" : ", ") + std::string(item);
  return out;
}

bool listed(std::string_view s, std::span<const std::string_view> items) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

constexpr std::string_view kNameRule = "must match [a-z0-9_-]+";
// The agent refuses less (harness/agent: run_memory_pressure).
constexpr std::uint64_t kMinLeaveAvailableKib = 4096;

// The string fields an operation cannot do without (fork and spawn name a new
// process, checked apart). Empty, the agent could only refuse the operation.
struct RequiredField {
  Op::KindCase kind;
  std::string_view field;
};
constexpr RequiredField kRequiredOpFields[] = {
    {Op::kOpen, "path"},        {Op::kOpen, "slot"},         {Op::kClose, "slot"},
    {Op::kIoctl, "slot"},       {Op::kBlob, "slot"},         {Op::kDup, "slot"},
    {Op::kDup, "new_slot"},     {Op::kKill, "process"},      {Op::kPassFd, "slot"},
    {Op::kPassFd, "to"},        {Op::kPassFd, "new_slot"},   {Op::kWriteFile, "path"},
    {Op::kReadFile, "path"},    {Op::kLoadModule, "path"},   {Op::kUnloadModule, "name"},
};

// What the checks need to know about one step of one actor (a guest thread or
// the host), guest and host steps alike.
struct StepInfo {
  std::size_t actor = 0;
  FieldPath path;
  std::string name;       // as written, or the default
  bool named = false;     // the name was written (defaults are unique by construction)
  std::string barrier;    // set for barrier steps
  const Op* op = nullptr;  // guest operation steps
  const Expect* expect = nullptr;
  std::string process;    // guest steps: the process of the thread
};

struct ActorInfo {
  std::string name;  // "host" or the thread's name
  FieldPath path;
  std::vector<std::size_t> steps;
};

class Validator {
 public:
  Validator(Scenario& scenario, std::string_view expected_name, Findings& findings)
      : s_(scenario), expected_name_(expected_name), f_(findings) {}

  void run() {
    check_identity();
    check_setup();
    check_quiet();
    check_limits();
    check_faults();
    collect_threads();
    collect_host();
    check_step_names();
    const bool barriers_ok = check_barriers();
    if (barriers_ok) ordered_ = order_steps();
    check_resources();
    check_data_of();
    if (f_.errors.empty()) complete();
  }

 private:
  // --- the scenario as a whole -------------------------------------------
  void check_identity() {
    const FieldPath root;
    if (s_.name().empty()) {
      f_.error(root / "name", "must be set (to the file's base name, " + in_quotes(expected_name_) + ")");
    } else if (!is_name(s_.name())) {
      f_.error(root / "name", in_quotes(s_.name()) + " " + std::string(kNameRule));
    } else if (s_.name() != expected_name_) {
      f_.error(root / "name", in_quotes(s_.name()) + " differs from the file's base name " +
                                  in_quotes(expected_name_));
    }
    bool negative_control = false;
    for (int i = 0; i < s_.tags_size(); ++i) {
      if (!is_name(s_.tags(i))) f_.error(root.at("tags", i), in_quotes(s_.tags(i)) + " " + std::string(kNameRule));
      negative_control |= s_.tags(i) == kNegativeControlTag;
    }
    const auto& verdict = s_.expect();
    const auto vpath = root / "expect";
    const bool expects_failure = verdict.outcome() == Verdict::FAIL;
    if (expects_failure && verdict.checker().empty()) {
      f_.error(vpath / "checker", "a scenario that must FAIL names the checker that fails it (" +
                                      join(kCheckers) + ")");
    } else if (!verdict.checker().empty() && !listed(verdict.checker(), kCheckers)) {
      f_.error(vpath / "checker", "unknown checker " + in_quotes(verdict.checker()) + " (checkers: " +
                                      join(kCheckers) + ")");
    } else if (!expects_failure && !verdict.checker().empty()) {
      f_.error(vpath / "checker", "a checker is named only with outcome: FAIL");
    }
    // A negative control is recognisable from its tags alone (filters, reports),
    // and a scenario expected to fail without the tag is probably a mistake.
    if (negative_control && !expects_failure) {
      f_.error(vpath / "outcome", "tagged \"negative-control\" but expects PASS: a negative control must FAIL");
    } else if (!negative_control && expects_failure) {
      f_.error(vpath / "outcome", "expects FAIL but is not tagged \"negative-control\"");
    }
  }

  void check_setup() {
    const auto path = FieldPath() / "setup";
    const auto& setup = s_.setup();
    for (int i = 0; i < setup.device_size(); ++i) {
      const auto& d = setup.device(i);
      const auto dpath = path.at("device", i);
      if (!is_name(d.name())) {
        f_.error(dpath / "name", d.name().empty() ? "must be set" : in_quotes(d.name()) + " " + std::string(kNameRule));
      } else if (!devices_.emplace(d.name(), d.kind()).second) {
        f_.error(dpath / "name", "device " + in_quotes(d.name()) + " is declared twice");
      }
      if (!listed(d.kind(), kDeviceKinds)) {
        f_.error(dpath / "kind", (d.kind().empty() ? std::string("must be set")
                                                   : "unknown device kind " + in_quotes(d.kind())) +
                                     " (kinds: " + join(kDeviceKinds) + ")");
      }
    }
    if (setup.device_size() == 0) devices_.emplace(kDefaultDeviceName, kDefaultDeviceKind);

    std::set<std::string> modules;
    for (int i = 0; i < setup.module_size(); ++i) {
      const auto& m = setup.module(i);
      if (!is_name(m)) {
        f_.error(path.at("module", i), in_quotes(m) + " is not a module name (" + std::string(kNameRule) + ")");
      } else if (!modules.insert(m).second) {
        f_.error(path.at("module", i), "module " + in_quotes(m) + " is listed twice");
      }
    }
    if (setup.module_size() == 0) {
      for (const auto m : kDefaultModules) modules.emplace(m);
    }

    // Walk the map as its entries were written (reflection sees the parsed
    // order), so each error points at its own entry.
    const auto* param_field = Setup::descriptor()->FindFieldByName("param");
    const auto* reflection = setup.GetReflection();
    for (int i = 0; i < reflection->FieldSize(setup, param_field); ++i) {
      const auto& entry = reflection->GetRepeatedMessage(setup, param_field, i);
      const auto key = entry.GetReflection()->GetString(entry, entry.GetDescriptor()->FindFieldByName("key"));
      const auto dot = key.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
        f_.error(path.at("param", i) / "key", in_quotes(key) + " is not \"module.parameter\"");
      } else if (!modules.contains(key.substr(0, dot))) {
        f_.error(path.at("param", i) / "key",
                 "module " + in_quotes(key.substr(0, dot)) + " is not loaded by setup.module");
      }
    }
  }

  // A quiet module must be loaded in the iteration (by setup.module or a
  // load_module step): the check of a module that never loads always passes.
  void check_quiet() {
    const auto path = FieldPath() / "quiet";
    std::set<std::string, std::less<>> loaded(s_.setup().module().begin(), s_.setup().module().end());
    if (s_.setup().module_size() == 0) loaded.insert(std::begin(kDefaultModules), std::end(kDefaultModules));
    for (const auto& thread : s_.thread()) {
      for (const auto& step : thread.step()) {
        if (!step.op().has_load_module()) continue;
        std::string_view file = step.op().load_module().path();
        file.remove_prefix(file.rfind('/') + 1);  // npos + 1 == 0: no folder
        loaded.emplace(file.substr(0, file.size() - (file.ends_with(".ko") ? 3 : 0)));
      }
    }
    std::set<std::string> seen;
    for (int i = 0; i < s_.quiet().module_size(); ++i) {
      const auto& m = s_.quiet().module(i);
      if (!is_name(m)) {
        f_.error(path.at("module", i), m.empty() ? std::string("must be set")
                                                 : in_quotes(m) + " is not a module name (" + std::string(kNameRule) + ")");
      } else if (!seen.insert(m).second) {
        f_.error(path.at("module", i), "module " + in_quotes(m) + " is listed twice");
      } else if (!loaded.contains(m)) {
        f_.error(path.at("module", i), "module " + in_quotes(m) +
                                           " is not loaded in the scenario (by setup.module or a load_module step)");
      }
    }
    if (s_.has_quiet() && s_.quiet().module_size() == 0) {
      f_.error(path, "names no module: quiet checks the modules it names");
    }
  }

  void check_limits() {
    const auto step = s_.limits().step_deadline_ms() ? s_.limits().step_deadline_ms() : kDefaultStepDeadlineMs;
    const auto whole = s_.limits().scenario_deadline_ms() ? s_.limits().scenario_deadline_ms()
                                                           : kDefaultScenarioDeadlineMs;
    if (step > whole) {
      f_.warning(FieldPath() / "limits" / "step_deadline_ms",
                 "a step deadline of " + std::to_string(step) + " ms outlasts the scenario's " +
                     std::to_string(whole) + " ms: the scenario deadline fires first");
    }
  }

  // `device` must name a declared device (or the default blob0).
  bool check_device(const FieldPath& path, const std::string& device) {
    if (devices_.contains(device)) return true;
    std::string declared;
    for (const auto& [name, kind] : devices_) declared += (declared.empty() ? "" : ", ") + name;
    f_.error(path, device.empty() ? "must name a device (declared: " + declared + ")"
                                  : "unknown device " + in_quotes(device) + " (declared: " + declared + ")");
    return false;
  }

  void check_faults() {
    const auto path = FieldPath() / "faults";
    for (int i = 0; i < s_.faults().rule_size(); ++i) {
      const auto& rule = s_.faults().rule(i);
      const auto rpath = path.at("rule", i);
      const bool known = check_device(rpath / "device", rule.device());
      if (rule.action_case() == FaultRule::ACTION_NOT_SET) {
        f_.error(rpath, "names no action (see FaultRule in proto/vscsim/scenario.proto)");
        continue;
      }
      using A = FaultRule::ActionCase;
      const A a = rule.action_case();
      const bool on_completions = a == A::kDelayMs || a == A::kDropCompletion || a == A::kDuplicateCompletion ||
                                  a == A::kReorderCompletion || a == A::kWrongId || a == A::kTruncate ||
                                  a == A::kCorrupt || a == A::kOversizeResponseLen || a == A::kSprayInterrupts ||
                                  a == A::kFloodMs;
      if (known && on_completions && devices_.at(rule.device()) != "blob") {
        f_.error(rpath / "device", "device " + in_quotes(rule.device()) + " is a " + devices_.at(rule.device()) +
                                       ": only a blob device sends the completions this rule acts on");
      }
      // vsp-sim refuses longer floods (FaultEngine::kMaxFloodMs): say so here, with the line.
      constexpr std::uint32_t kMaxFloodMs = 600000;
      if (a == A::kFloodMs && rule.flood_ms() > kMaxFloodMs) {
        f_.error(rpath / "flood_ms", "must be at most " + std::to_string(kMaxFloodMs));
      }
      if (!rule.operation().empty()) {
        // The names vsp-sim's blob model gives its requests: vscsim.blob.Request's `op` fields.
        const auto* op = vscsim::blob::Request::descriptor()->FindOneofByName("op");
        std::string names;
        bool found = false;
        for (int k = 0; k < op->field_count(); ++k) {
          names += (k ? ", " : "") + op->field(k)->name();
          found = found || op->field(k)->name() == rule.operation();
        }
        if (!on_completions) {
          f_.error(rpath / "operation", "only completion actions match on an operation");
        } else if (!found) {
          f_.error(rpath / "operation", "unknown blob operation " + in_quotes(rule.operation()) + " (" + names + ")");
        }
      }
      if (a == A::kRescind) {
        f_.error(rpath / "rescind", "does not say when: use rescind_after_in_flight, rescind_on_close, or a host "
                                    "step `rescind` at a barrier");
      }
      // Written but empty, an action does nothing: `drop_completion: false`
      // or `delay_ms: 0` is a slip, not a plan. (A oneof case is its field's number.)
      const auto* action = FaultRule::descriptor()->FindFieldByNumber(rule.action_case());
      const auto* reflection = rule.GetReflection();
      using google::protobuf::FieldDescriptor;
      if (action->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !reflection->GetBool(rule, action)) {
        f_.error(rpath / action->name(), "is false: a rule acts only when its action is true");
      } else if (action->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 && reflection->GetUInt32(rule, action) == 0) {
        f_.error(rpath / action->name(), "must be above 0");
      }
    }
  }

  // --- steps ---------------------------------------------------------------
  void collect_threads() {
    std::set<std::string> thread_names;
    for (int t = 0; t < s_.thread_size(); ++t) {
      const auto& thread = s_.thread(t);
      const auto tpath = FieldPath().at("thread", t);
      if (!is_name(thread.name())) {
        f_.error(tpath / "name", thread.name().empty() ? "must be set" : in_quotes(thread.name()) + " " + std::string(kNameRule));
      } else if (thread.name() == kHostActor) {
        f_.error(tpath / "name", "\"host\" is the host's lane in reports; pick another thread name");
      } else if (!thread_names.insert(thread.name()).second) {
        // The agent knows a thread by name: two entries would be one thread
        // whose steps interleave in no defined order.
        f_.error(tpath / "name", "thread " + in_quotes(thread.name()) + " is declared twice");
      }
      const std::string process = thread.process().empty() ? std::string(kDefaultProcess) : thread.process();
      if (!is_name(process)) f_.error(tpath / "process", in_quotes(process) + " " + std::string(kNameRule));
      if (thread.step_size() == 0) f_.warning(tpath, "thread " + in_quotes(thread.name()) + " has no steps");
      constexpr std::uint32_t kMaxRepeat = 10000;
      if (thread.repeat() > kMaxRepeat) f_.error(tpath / "repeat", "must be at most " + std::to_string(kMaxRepeat));
      const bool repeated = thread.repeat() > 1;

      const std::size_t actor = actors_.size();
      actors_.push_back({thread.name(), tpath, {}});
      int exited_at = -1;  // the step that ends the thread, once one does
      for (int i = 0; i < thread.step_size(); ++i) {
        const auto& step = thread.step(i);
        StepInfo info;
        info.actor = actor;
        info.path = tpath.at("step", i);
        info.name = step.name().empty() ? thread.name() + "#" + std::to_string(i) : step.name();
        info.named = !step.name().empty();
        info.process = process;
        if (exited_at >= 0) {
          f_.error(info.path, "never runs: the thread exits at step[" + std::to_string(exited_at) + "]");
          exited_at = -1;  // once per thread is enough
        }
        switch (step.kind_case()) {
          case GuestStep::kOp:
            info.op = &step.op();
            if (step.has_expect()) info.expect = &step.expect();
            check_op(info);
            if (step.op().has_exit()) exited_at = i;
            if (step.op().has_exit() && repeated) {
              f_.error(info.path / "op" / "exit", "a repeated thread cannot exit: its next round would never run");
            }
            break;
          case GuestStep::kBarrier:
            info.barrier = step.barrier();
            check_barrier_name(info.path / "barrier", step.barrier());
            if (step.has_expect()) f_.error(info.path / "expect", "only operation steps have expectations; this is a barrier");
            if (repeated) {
              f_.error(info.path / "barrier", "a repeated thread (repeat: " + std::to_string(thread.repeat()) +
                                                  ") takes no barriers");
            }
            break;
          case GuestStep::KIND_NOT_SET:
            f_.error(info.path, "a guest step needs an op or a barrier");
            break;
        }
        if (!step.name().empty() && !is_name(step.name())) {
          f_.error(info.path / "name", in_quotes(step.name()) + " " + std::string(kNameRule));
        }
        add_step(std::move(info));
      }
    }
  }

  void collect_host() {
    const auto hpath = FieldPath() / "host";
    const std::size_t actor = actors_.size();
    actors_.push_back({std::string(kHostActor), hpath, {}});
    for (int i = 0; i < s_.host().step_size(); ++i) {
      const auto& step = s_.host().step(i);
      StepInfo info;
      info.actor = actor;
      info.path = hpath.at("step", i);
      info.name = step.name().empty() ? std::string(kHostActor) + "#" + std::to_string(i) : step.name();
      info.named = !step.name().empty();
      if (!step.name().empty() && !is_name(step.name())) {
        f_.error(info.path / "name", in_quotes(step.name()) + " " + std::string(kNameRule));
      }
      switch (step.kind_case()) {
        case HostStep::kBarrier:
          info.barrier = step.barrier();
          check_barrier_name(info.path / "barrier", step.barrier());
          break;
        case HostStep::kRescind:
          check_device(info.path / "rescind" / "device", step.rescind().device());
          break;
        case HostStep::kReoffer:
          check_device(info.path / "reoffer" / "device", step.reoffer().device());
          break;
        case HostStep::kFailNextOpen:
          check_device(info.path / "fail_next_open" / "device", step.fail_next_open().device());
          break;
        case HostStep::kBlobDelay:
          check_blob_device(info.path / "blob_delay" / "device", step.blob_delay().device());
          break;
        case HostStep::kBlobInject:
          check_blob_device(info.path / "blob_inject" / "device", step.blob_inject().device());
          break;
        case HostStep::kSleepMs:
          break;
        case HostStep::kWaitState:
          check_device(info.path / "wait_state" / "device", step.wait_state().device());
          if (step.wait_state().word_size() == 0) {
            f_.error(info.path / "wait_state", "needs at least one word to wait for (e.g. \"channel=released\")");
          }
          break;
        case HostStep::KIND_NOT_SET:
          f_.error(info.path, "a host step needs an action (barrier, rescind, reoffer, fail_next_open, blob_delay, blob_inject, sleep_ms, wait_state)");
          break;
      }
      add_step(std::move(info));
    }
  }

  // A device that must be a blob (blob_delay, blob_inject).
  void check_blob_device(const FieldPath& path, const std::string& device) {
    if (check_device(path, device) && devices_.at(device) != "blob") {
      f_.error(path, "device " + in_quotes(device) + " is a " + devices_.at(device) + ", not a blob");
    }
  }

  void add_step(StepInfo info) {
    actors_[info.actor].steps.push_back(steps_.size());
    steps_.push_back(std::move(info));
  }

  void check_barrier_name(const FieldPath& path, const std::string& barrier) {
    if (!is_name(barrier)) f_.error(path, barrier.empty() ? "must be set" : in_quotes(barrier) + " " + std::string(kNameRule));
  }

  void require(const FieldPath& path, const std::string& value) {
    if (value.empty()) f_.error(path, "must be set");
  }

  // A process another step creates by fork or spawn: not "main", which always exists.
  void check_new_process(const FieldPath& path, const std::string& name) {
    if (name.empty()) {
      f_.error(path, "must be set");
    } else if (!is_name(name)) {
      f_.error(path, in_quotes(name) + " " + std::string(kNameRule));
    } else if (name == kDefaultProcess) {
      f_.error(path, "process \"main\" always exists; a new process needs another name");
    }
  }

  void check_op(const StepInfo& step) {
    const auto& op = *step.op;
    const auto p = step.path / "op";
    if (op.kind_case() == Op::KIND_NOT_SET) {
      f_.error(p, "names no operation");
      return;
    }
    // The oneof's case is the chosen field's number.
    const auto* chosen = Op::descriptor()->FindFieldByNumber(op.kind_case());
    const auto& args = op.GetReflection()->GetMessage(op, chosen);
    for (const auto& need : kRequiredOpFields) {
      if (need.kind != op.kind_case()) continue;
      const auto* field = args.GetDescriptor()->FindFieldByName(std::string(need.field));
      require(p / chosen->name() / need.field, args.GetReflection()->GetString(args, field));
    }
    if (op.has_fork()) check_new_process(p / "fork" / "child", op.fork().child());
    if (op.has_spawn()) check_new_process(p / "spawn" / "name", op.spawn().name());
    if (op.has_memory_pressure() && op.memory_pressure().leave_available_kib() < kMinLeaveAvailableKib) {
      f_.error(p / "memory_pressure" / "leave_available_kib",
               "must be at least " + std::to_string(kMinLeaveAvailableKib) + " (a guest with less stops answering)");
    }
    if (step.expect) check_expect(step);
  }

  void check_expect(const StepInfo& step) {
    const auto& e = *step.expect;
    const auto p = step.path / "expect";
    if (!is_expected_errno(e.errno_name())) {
      f_.error(p / "errno_name", "unknown errno name " + in_quotes(e.errno_name()));
    }
    for (int i = 0; i < e.any_errno_size(); ++i) {
      if (!is_expected_errno(e.any_errno(i))) f_.error(p.at("any_errno", i), "unknown errno name " + in_quotes(e.any_errno(i)));
    }
    if (!e.errno_name().empty() && e.any_errno_size() > 0) {
      f_.error(p.at("any_errno", 0), "give errno_name or any_errno, not both");
    }
    if (!e.data().empty() && !e.data_of().empty()) f_.error(p / "data_of", "give data or data_of, not both");

    const auto kind = step.op->kind_case();
    const bool ioctl_or_blob = kind == Op::kIoctl || kind == Op::kBlob;
    if (e.has_status() && !ioctl_or_blob) f_.error(p / "status", "only ioctl and blob operations have a wire status");
    if (e.has_blob_status() && kind != Op::kBlob) f_.error(p / "blob_status", "only blob operations have a blob status");
    if ((!e.data().empty() || !e.data_of().empty()) && !ioctl_or_blob && kind != Op::kReadFile) {
      f_.error(p / (e.data().empty() ? "data_of" : "data"), "only ioctl, blob and read_file operations return data");
    }
    if (e.within_ms() != 0 && e.not_before_ms() > e.within_ms()) {
      f_.error(p / "not_before_ms", "can never hold: not_before_ms is above within_ms");
    }
    const bool says_outcome = !e.errno_name().empty() || e.any_errno_size() > 0 || e.has_status() ||
                              e.has_blob_status() || !e.data().empty() || !e.data_of().empty();
    if (e.any_outcome() && says_outcome) {
      f_.error(p / "any_outcome", "any_outcome takes any errno, status and data: give none of them");
    }
  }

  void check_step_names() {
    std::map<std::string, const StepInfo*> seen;
    for (const auto& step : steps_) {
      // A default name ("<thread>#<index>") has a '#', which written names
      // cannot, and threads are unique (checked), so only written names can clash.
      if (!step.named) continue;
      const auto [it, fresh] = seen.emplace(step.name, &step);
      if (!fresh) {
        f_.error(step.path / "name", "step name " + in_quotes(step.name) + " is already used by " + it->second->path.str());
      }
    }
  }

  // --- barriers and the order they give ------------------------------------
  // A barrier lets its actors go once every actor that names it has arrived.
  // So it needs two actors to mean anything, and an actor must not name it
  // twice: at its second arrival the others have already passed (each names
  // it once), nobody else will ever come, and it waits forever.
  bool check_barriers() {
    std::map<std::string, std::vector<std::size_t>> arrivals;  // barrier -> steps, in file order
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (!steps_[i].barrier.empty()) arrivals[steps_[i].barrier].push_back(i);
    }
    bool ok = true;
    for (const auto& [barrier, at] : arrivals) {
      std::set<std::size_t> actors;
      for (const auto i : at) {
        if (!actors.insert(steps_[i].actor).second) {
          f_.error(steps_[i].path / "barrier",
                   actor_label(steps_[i].actor) + " reaches barrier " + in_quotes(barrier) +
                       " a second time: a barrier is passed once, so the second arrival would wait for "
                       "actors that have already gone past it (deadlock); use a new barrier name");
          ok = false;
        }
      }
      if (actors.size() < 2) {
        f_.error(steps_[at.front()].path / "barrier",
                 "barrier " + in_quotes(barrier) + " is reached only by " + actor_label(steps_[at.front()].actor) +
                     ": a barrier needs at least two actors (the host and each thread count as one)");
        ok = false;
      }
      barrier_ids_.emplace(barrier, barrier_ids_.size());
    }
    return ok;
  }

  std::string actor_label(std::size_t actor) const {
    const auto& name = actors_[actor].name;
    return name == kHostActor ? std::string("the host") : "thread " + in_quotes(name);
  }

  // Builds "step a ends before step b starts" from each actor's order and the
  // barriers (the steps of every actor that reaches a barrier come after
  // everything its other actors did before it). A circle of barriers (actor 1
  // waits at x before y, actor 2 at y before x) is a deadlock and an error.
  bool order_steps() {
    const std::size_t n = steps_.size() + barrier_ids_.size();
    node_.resize(steps_.size());
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      node_[i] = steps_[i].barrier.empty() ? i : steps_.size() + barrier_ids_.at(steps_[i].barrier);
    }
    std::vector<std::vector<std::size_t>> next(n);
    std::vector<std::size_t> in_degree(n, 0);
    for (const auto& actor : actors_) {
      for (std::size_t k = 1; k < actor.steps.size(); ++k) {
        next[node_[actor.steps[k - 1]]].push_back(node_[actor.steps[k]]);
        ++in_degree[node_[actor.steps[k]]];
      }
    }
    std::vector<std::size_t> topo;
    for (std::size_t v = 0; v < n; ++v) {
      if (in_degree[v] == 0) topo.push_back(v);
    }
    for (std::size_t k = 0; k < topo.size(); ++k) {
      for (const auto w : next[topo[k]]) {
        if (--in_degree[w] == 0) topo.push_back(w);
      }
    }
    if (topo.size() < n) {
      report_barrier_circle(next, in_degree);
      return false;
    }
    reach_.assign(n, std::vector<bool>(n, false));
    for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
      for (const auto w : next[*it]) {
        reach_[*it][w] = true;
        for (std::size_t x = 0; x < n; ++x) {
          if (reach_[w][x]) reach_[*it][x] = true;
        }
      }
    }
    return true;
  }

  // The nodes left after Kahn's pass are on a circle or after one; peeling
  // the ones with no way onward leaves the circles, whose barriers are named.
  void report_barrier_circle(const std::vector<std::vector<std::size_t>>& next,
                             const std::vector<std::size_t>& in_degree) {
    const std::size_t n = next.size();
    std::vector<bool> left(n);
    for (std::size_t v = 0; v < n; ++v) left[v] = in_degree[v] > 0;
    for (bool peeled = true; peeled;) {
      peeled = false;
      for (std::size_t v = 0; v < n; ++v) {
        if (left[v] && std::none_of(next[v].begin(), next[v].end(), [&](std::size_t w) { return left[w]; })) {
          left[v] = false;
          peeled = true;
        }
      }
    }
    std::vector<std::string> names;
    const StepInfo* first = nullptr;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].barrier.empty() || !left[node_[i]]) continue;
      if (!first) first = &steps_[i];
      if (std::find(names.begin(), names.end(), steps_[i].barrier) == names.end()) names.push_back(steps_[i].barrier);
    }
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ", ") + in_quotes(name);
    // Every circle passes through a barrier (each actor alone is a straight
    // line), so `first` is set; the fallback only keeps a bug from crashing.
    f_.error(first ? first->path / "barrier" : FieldPath(),
             "barriers " + list + " wait for each other in a circle: the actors reach them in orders "
             "that cannot all be met (deadlock)");
  }

  bool before(std::size_t a, std::size_t b) const {
    return ordered_ && node_[a] != node_[b] && reach_[node_[a]][node_[b]];
  }

  // --- processes and slots ---------------------------------------------------
  // Processes come from fork/spawn steps, slots from open, dup and pass_fd
  // (and a fork copies its parent's). An op whose process or slot nothing
  // creates anywhere is an error; one whose creator is not ordered before it
  // (same thread earlier, or another actor across a barrier) is a warning:
  // timing may still make it work, but nothing promises it.
  void check_resources() {
    std::map<std::string, std::vector<std::size_t>> process_creators;
    std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> slot_creators;
    std::set<std::string> slots_anywhere;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto* op = steps_[i].op;
      if (!op) continue;
      const auto& process = steps_[i].process;
      auto creates = [&](const std::string& in, const std::string& slot) {
        slot_creators[{in, slot}].push_back(i);
        slots_anywhere.insert(slot);
      };
      if (op->has_fork()) process_creators[op->fork().child()].push_back(i);
      if (op->has_spawn()) process_creators[op->spawn().name()].push_back(i);
      if (op->has_open()) creates(process, op->open().slot());
      if (op->has_dup()) creates(process, op->dup().new_slot());
      if (op->has_pass_fd()) creates(op->pass_fd().to(), op->pass_fd().new_slot());
    }

    auto process_ready = [&](const std::string& process, std::size_t at) {
      if (process == kDefaultProcess) return true;
      const auto it = process_creators.find(process);
      return it != process_creators.end() &&
             std::any_of(it->second.begin(), it->second.end(), [&](std::size_t c) { return before(c, at); });
    };
    // Bounded by the number of forks: each level moves to an earlier fork step.
    std::function<bool(const std::string&, const std::string&, std::size_t, std::size_t)> slot_ready =
        [&](const std::string& process, const std::string& slot, std::size_t at, std::size_t depth) {
          if (depth > steps_.size()) return false;
          if (const auto it = slot_creators.find({process, slot}); it != slot_creators.end()) {
            for (const auto c : it->second) {
              if (before(c, at)) return true;
            }
          }
          if (const auto it = process_creators.find(process); it != process_creators.end()) {
            for (const auto c : it->second) {
              if (steps_[c].op->has_fork() && before(c, at) && slot_ready(steps_[c].process, slot, c, depth + 1)) return true;
            }
          }
          return false;
        };

    // Without an order (the barriers are broken, already an error) only
    // "never created" can be told.
    auto need_process = [&](const FieldPath& path, const std::string& process, std::size_t at) {
      if (process.empty() || process_ready(process, at)) return;
      if (!process_creators.contains(process)) {
        f_.error(path, "process " + in_quotes(process) + " is never created: no fork or spawn step names it");
      } else if (ordered_) {
        f_.warning(path, "process " + in_quotes(process) + " may not exist yet: no fork or spawn of it is ordered "
                         "before this step (order steps of different actors with a barrier)");
      }
    };
    auto need_slot = [&](const FieldPath& path, const std::string& slot, std::size_t at) {
      if (slot.empty() || slot_ready(steps_[at].process, slot, at, 0)) return;
      if (!slots_anywhere.contains(slot)) {
        f_.error(path, "slot " + in_quotes(slot) + " is never created: no open, dup or pass_fd makes it");
      } else if (ordered_) {
        f_.warning(path, "slot " + in_quotes(slot) + " may not exist in process " + in_quotes(steps_[at].process) +
                             " yet: nothing that makes it is ordered before this step");
      }
    };

    for (const auto& actor : actors_) {
      bool first_op = true;
      for (const auto i : actor.steps) {
        const auto& step = steps_[i];
        if (!step.op) continue;
        // The thread's process must exist when its first operation is sent;
        // later ones follow it.
        if (first_op) need_process(actor.path / "process", step.process, i);
        first_op = false;
        const auto p = step.path / "op";
        const auto& op = *step.op;
        switch (op.kind_case()) {
          case Op::kClose: need_slot(p / "close" / "slot", op.close().slot(), i); break;
          case Op::kIoctl: need_slot(p / "ioctl" / "slot", op.ioctl().slot(), i); break;
          case Op::kBlob: need_slot(p / "blob" / "slot", op.blob().slot(), i); break;
          case Op::kDup: need_slot(p / "dup" / "slot", op.dup().slot(), i); break;
          case Op::kPassFd:
            need_slot(p / "pass_fd" / "slot", op.pass_fd().slot(), i);
            need_process(p / "pass_fd" / "to", op.pass_fd().to(), i);
            break;
          case Op::kKill: need_process(p / "kill" / "process", op.kill().process(), i); break;
          default: break;
        }
      }
    }
  }

  void check_data_of() {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      const auto* e = steps_[i].expect;
      if (!e || e->data_of().empty()) continue;
      const auto path = steps_[i].path / "expect" / "data_of";
      const auto target = std::find_if(steps_.begin(), steps_.end(),
                                       [&](const StepInfo& s) { return s.name == e->data_of(); });
      if (target == steps_.end()) {
        f_.error(path, "no step is named " + in_quotes(e->data_of()));
      } else if (!target->op) {
        f_.error(path, "step " + in_quotes(e->data_of()) + " is not a guest operation: it returns no data");
      } else if (&*target == &steps_[i]) {
        f_.error(path, "names its own step; name an earlier step");
      } else if (ordered_ && !before(static_cast<std::size_t>(target - steps_.begin()), i)) {
        f_.error(path, "step " + in_quotes(e->data_of()) +
                           " is not ordered before this one (earlier in the thread, or before a barrier both pass)");
      }
    }
  }

  // --- defaults --------------------------------------------------------------
  void complete() {
    auto* setup = s_.mutable_setup();
    if (setup->device_size() == 0) {
      auto* d = setup->add_device();
      d->set_name(std::string(kDefaultDeviceName));
      d->set_kind(std::string(kDefaultDeviceKind));
    }
    if (setup->module_size() == 0) {
      for (const auto m : kDefaultModules) setup->add_module(std::string(m));
    }
    auto* limits = s_.mutable_limits();
    if (limits->step_deadline_ms() == 0) limits->set_step_deadline_ms(kDefaultStepDeadlineMs);
    if (limits->scenario_deadline_ms() == 0) limits->set_scenario_deadline_ms(kDefaultScenarioDeadlineMs);
    const auto step_deadline = limits->step_deadline_ms();
    for (auto& thread : *s_.mutable_thread()) {
      if (thread.process().empty()) thread.set_process(std::string(kDefaultProcess));
      for (int i = 0; i < thread.step_size(); ++i) {
        auto* step = thread.mutable_step(i);
        if (step->name().empty()) step->set_name(thread.name() + "#" + std::to_string(i));
        if (step->deadline_ms() == 0) step->set_deadline_ms(step_deadline);
      }
    }
    for (int i = 0; i < s_.host().step_size(); ++i) {
      auto* step = s_.mutable_host()->mutable_step(i);
      if (step->name().empty()) step->set_name(std::string(kHostActor) + "#" + std::to_string(i));
      if (step->deadline_ms() == 0) step->set_deadline_ms(step_deadline);
    }
  }

  Scenario& s_;
  std::string expected_name_;
  Findings& f_;
  std::map<std::string, std::string> devices_;  // name -> kind, the default blob0 included
  std::vector<ActorInfo> actors_;               // the threads in order, then the host
  std::vector<StepInfo> steps_;
  std::map<std::string, std::size_t> barrier_ids_;
  // The order graph: one node per non-barrier step and one per barrier.
  std::vector<std::size_t> node_;
  std::vector<std::vector<bool>> reach_;
  bool ordered_ = false;
};

}  // namespace

void check_and_complete(Scenario& scenario, std::string_view expected_name, Findings& findings) {
  Validator(scenario, expected_name, findings).run();
}

}  // namespace vscsim::scenario::detail
