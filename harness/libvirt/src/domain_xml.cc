#include "vscsim/libvirt/domain_xml.h"

#include <fmt/format.h>

#include "vscsim/launcher/qemu_command.h"

namespace vscsim::libvirt {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string unsupported_option(const launcher::LaunchOptions& o) {
  if (!o.extra_args.empty()) return "extra QEMU arguments cannot be passed to a libvirt domain";
  if (o.console_on_stdio) return "the console cannot be this terminal with libvirt (use `virsh console <domain>`)";
  if (o.gdb_port) return "the gdbstub is not set up for libvirt domains; use the qemu backend (--gdb)";
  if (o.accel == launcher::Accel::Auto) return "the accelerator must be resolved (tcg or kvm) before launch";
  if (o.kernel.empty()) return "no guest kernel given";
  if (o.ram_bytes == 0 || o.ram_bytes % (1u << 20) != 0) return "guest RAM must be a whole number of MiB";
  return "";
}

std::string domain_xml(const launcher::LaunchOptions& o, const DomainFiles& f) {
  auto e = [](const auto& v) { return xml_escape(fmt::format("{}", v)); };
  auto p = [](const std::filesystem::path& v) { return xml_escape(v.string()); };
  std::string x;
  // type qemu is TCG; kvm needs a working /dev/kvm (launcher/kvm_probe.h).
  x += fmt::format("<domain type='{}'>\n", o.accel == launcher::Accel::Kvm ? "kvm" : "qemu");
  x += fmt::format("  <name>{}</name>\n", e(o.name));
  x += "  <description>vscsim guest (harness/libvirt): vsp-sim is its VMBus host</description>\n";
  x += fmt::format("  <memory unit='MiB'>{}</memory>\n", o.ram_bytes >> 20);
  // Guest RAM in a file both QEMU and vsp-sim map: libvirt creates it under
  // its memory_backing_dir; vsp-sim finds it in QEMU's maps.
  x += "  <memoryBacking>\n    <source type='file'/>\n    <access mode='shared'/>\n  </memoryBacking>\n";
  // The same -smp rule as the QEMU backend (qemu_command.h smp_argument):
  // under TCG a second, offline CPU keeps the guest's barriers real.
  const unsigned max_cpus = o.accel == launcher::Accel::Tcg && o.cpus < 2 ? 2 : o.cpus;
  x += fmt::format("  <vcpu placement='static' current='{}'>{}</vcpu>\n", o.cpus, max_cpus);
  if (o.accel == launcher::Accel::Kvm) x += "  <cpu mode='host-passthrough'/>\n";
  x += "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n";
  if (!f.firmware.empty()) x += fmt::format("    <loader type='rom'>{}</loader>\n", p(f.firmware));
  x += fmt::format("    <kernel>{}</kernel>\n", p(f.kernel));
  if (!f.initrd.empty()) x += fmt::format("    <initrd>{}</initrd>\n", p(f.initrd));
  x += fmt::format("    <cmdline>{}</cmdline>\n", e(launcher::kernel_command_line(o)));
  x += "  </os>\n";
  if (!f.run_script.empty()) {
    x += fmt::format("  <sysinfo type='fwcfg'>\n    <entry name='{}' file='{}'/>\n  </sysinfo>\n",
                     e(launcher::kRunScriptFwCfgName), p(f.run_script));
  }
  x += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n";
  x += "  <clock offset='utc'/>\n";
  // A guest that powers off, reboots (panic=-1) or crashes ends the domain,
  // as -no-reboot ends the QEMU backend's process.
  x += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n";
  x += "  <devices>\n";
  x += fmt::format("    <emulator>{}</emulator>\n", p(f.emulator));
  x += fmt::format("    <serial type='file'>\n      <source path='{}' append='off'/>\n"
                   "      <target port='0'/>\n    </serial>\n", p(f.console_log));
  x += fmt::format("    <channel type='unix'>\n      <source mode='bind' path='{}'/>\n"
                   "      <target type='virtio' name='{}'/>\n    </channel>\n",
                   p(f.agent_socket), e(launcher::kAgentPortName));
  for (std::size_t i = 0; i < o.ivshmem.size(); ++i) {
    x += fmt::format("    <shmem name='vscsim-ivshmem{}'>\n      <model type='ivshmem-doorbell'/>\n"
                     "      <server path='{}'/>\n      <msi vectors='{}' ioeventfd='on'/>\n    </shmem>\n",
                     i, p(o.ivshmem[i].server_socket), o.ivshmem[i].vectors);
  }
  if (o.user_network) {
    x += "    <interface type='user'>\n      <model type='virtio'/>\n      <rom enabled='no'/>\n"
         "    </interface>\n";
  }
  // Nothing else: no USB, no balloon, no display (libvirt adds none of them
  // when told so), like the QEMU backend's -nodefaults.
  x += "    <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n";
  x += "  </devices>\n</domain>\n";
  return x;
}

}  // namespace vscsim::libvirt
