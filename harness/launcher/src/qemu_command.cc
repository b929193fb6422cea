#include "vscsim/launcher/qemu_command.h"

#include <stdexcept>

namespace vscsim::launcher {

std::string_view to_string(Accel accel) {
  switch (accel) {
    case Accel::Auto: return "auto";
    case Accel::Tcg: return "tcg";
    case Accel::Kvm: return "kvm";
  }
  return "?";
}

std::optional<Accel> parse_accel(std::string_view text) {
  if (text == "auto") return Accel::Auto;
  if (text == "tcg") return Accel::Tcg;
  if (text == "kvm") return Accel::Kvm;
  return std::nullopt;
}

std::string_view to_string(Backend backend) {
  switch (backend) {
    case Backend::Qemu: return "qemu";
    case Backend::Libvirt: return "libvirt";
  }
  return "?";
}

std::optional<Backend> parse_backend(std::string_view text) {
  if (text == "qemu") return Backend::Qemu;
  if (text == "libvirt") return Backend::Libvirt;
  return std::nullopt;
}

std::string kernel_command_line(const LaunchOptions& options) {
  // panic=-1 with -no-reboot: a panicking guest ends QEMU at once instead of
  // hanging until the deadline. nokaslr keeps gdb's symbol addresses right.
  std::string line = "console=ttyS0 panic=-1";
  if (options.gdb_port) line += " nokaslr";
  if (options.user_network) line += " vscsim.net=1";
  for (const auto& arg : options.kernel_args) line += " " + arg;
  return line;
}

std::string smp_argument(const LaunchOptions& o) {
  // TCG translates the guest's memory barriers and atomic instructions into
  // real host ones only when the machine may have more than one CPU; with
  // maxcpus=1 it drops them, since no other vCPU could tell. vsp-sim is such
  // an observer: it shares the rings with the guest, and the guest's
  // "clear the interrupt mask, barrier, look for new packets" against the
  // host's "publish, barrier, look at the mask" lost wakeups without the
  // barrier (a 1 MiB put benchmark stalled about once in 20k requests). So
  // TCG guests always allow a second CPU; only `cpus` of them are started.
  if (o.accel == Accel::Tcg && o.cpus < 2) return std::to_string(o.cpus) + ",maxcpus=2";
  return std::to_string(o.cpus);
}

std::vector<std::string> qemu_command(const LaunchOptions& o, const RunResources& run) {
  if (o.accel == Accel::Auto) throw std::invalid_argument("accel must be resolved (tcg or kvm) before launch");
  if (o.kernel.empty()) throw std::invalid_argument("no guest kernel given");
  if (o.ram_bytes == 0 || o.ram_bytes % (1u << 20) != 0) throw std::invalid_argument("guest RAM must be a whole number of MiB");
  if (run.ram_fd < 0) throw std::invalid_argument("no guest RAM file descriptor");
  const std::string mib = std::to_string(o.ram_bytes >> 20);
  // x86's COMMAND_LINE_SIZE is 2048 with the NUL; a longer line does not fail
  // cleanly, the guest just never reaches init.
  if (const auto len = kernel_command_line(o).size(); len > 2047) {
    throw std::invalid_argument("kernel command line is " + std::to_string(len) +
                                " bytes; the guest kernel takes at most 2047 (use run_script for scripts)");
  }

  std::vector<std::string> a = {o.qemu, "-name", o.name,
                                "-nodefaults", "-no-user-config", "-display", "none",
                                "-no-reboot", "-monitor", "none"};
  // Guest RAM is a file QEMU maps shared, so the simulator sees guest physical
  // memory as offsets in the same file. The file is a memfd the launcher owns
  // (reached as /proc/self/fd/N): nothing is ever left in /dev/shm.
  a.insert(a.end(), {"-machine", "q35,memory-backend=vscsim-ram", "-m", mib + "M",
                     "-object", "memory-backend-file,id=vscsim-ram,size=" + mib +
                                    "M,mem-path=/proc/self/fd/" + std::to_string(run.ram_fd) + ",share=on",
                     "-smp", smp_argument(o)});
  if (o.accel == Accel::Kvm) {
    a.insert(a.end(), {"-accel", "kvm", "-cpu", "host"});
  } else {
    a.insert(a.end(), {"-accel", "tcg"});
  }
  const std::string con = o.console_on_stdio
                              ? "stdio,id=vscsim-console,signal=off,logfile=" + run.console_log.string()
                              : "file,id=vscsim-console,path=" + run.console_log.string();
  a.insert(a.end(), {"-chardev", con, "-serial", "chardev:vscsim-console"});
  // The guest agent's port: a virtio-serial port backed by a unix socket that
  // QEMU listens on; the harness connects when it wants to talk.
  a.insert(a.end(), {"-device", "virtio-serial-pci,id=vscsim-vser",
                     "-chardev", "socket,id=vscsim-agent,path=" + run.agent_socket.string() + ",server=on,wait=off",
                     "-device", std::string("virtserialport,bus=vscsim-vser.0,chardev=vscsim-agent,name=") + kAgentPortName});
  if (!run.run_script.empty()) {
    a.insert(a.end(), {"-fw_cfg", std::string("name=") + kRunScriptFwCfgName + ",file=" + run.run_script.string()});
  }
  if (o.user_network) {
    // No IPv6 (init configures IPv4 only) and no option ROM: nothing boots
    // from this card, and loading iPXE's ROM costs boot time.
    a.insert(a.end(), {"-netdev", "user,id=vscsim-net,ipv6=off",
                       "-device", "virtio-net-pci,netdev=vscsim-net,romfile="});
  }
  if (o.gdb_port) {
    a.insert(a.end(), {"-gdb", "tcp:127.0.0.1:" + std::to_string(*o.gdb_port)});
    if (o.gdb_wait) a.push_back("-S");
  }
  if (!o.firmware.empty()) a.insert(a.end(), {"-bios", o.firmware.string()});
  a.insert(a.end(), {"-kernel", o.kernel.string()});
  if (!o.initrd.empty()) a.insert(a.end(), {"-initrd", o.initrd.string()});
  a.insert(a.end(), {"-append", kernel_command_line(o)});
  for (std::size_t i = 0; i < o.ivshmem.size(); ++i) {
    const std::string id = "vscsim-ivshmem" + std::to_string(i);
    a.insert(a.end(), {"-chardev", "socket,path=" + o.ivshmem[i].server_socket.string() + ",id=" + id,
                       "-device", "ivshmem-doorbell,chardev=" + id + ",vectors=" + std::to_string(o.ivshmem[i].vectors)});
  }
  a.insert(a.end(), o.extra_args.begin(), o.extra_args.end());
  return a;
}

}  // namespace vscsim::launcher
