// The libvirt domain a guest runs as: the same machine the QEMU backend
// starts (q35, file-backed shared RAM, the serial console in a file, the
// agent's virtio-serial port, the run script as a fw_cfg file, the VMBus
// transport's ivshmem-doorbell devices), written as domain XML. A pure
// function, so the XML is unit-tested without libvirtd.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "vscsim/launcher/launch_options.h"

namespace vscsim::libvirt {

// Where the domain's files are; all must be reachable by the user libvirt
// runs QEMU as (libvirt-qemu on Debian): the launcher stages them in the run
// folder (libvirt_guest.h).
struct DomainFiles {
  std::filesystem::path emulator;     // absolute path of qemu-system-x86_64
  std::filesystem::path kernel;
  std::filesystem::path initrd;       // empty: none
  std::filesystem::path firmware;     // empty: libvirt's default (SeaBIOS)
  std::filesystem::path console_log;
  std::filesystem::path agent_socket;
  std::filesystem::path run_script;   // empty: none
};

// `options.ivshmem` become <shmem> devices; options.extra_args,
// console_on_stdio and gdb_port cannot be expressed and must be refused
// before (unsupported_option()).
std::string domain_xml(const launcher::LaunchOptions& options, const DomainFiles& files);

// Why `options` cannot run as a libvirt domain, or "" if it can.
std::string unsupported_option(const launcher::LaunchOptions& options);

// `text` with &, <, >, " and ' escaped, for XML text and attribute values.
std::string xml_escape(std::string_view text);

}  // namespace vscsim::libvirt
