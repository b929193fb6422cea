#define BOOST_TEST_MODULE qemu_command
#include "vscsim/launcher/qemu_command.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>

using namespace vscsim::launcher;

namespace {
LaunchOptions basic() {
  LaunchOptions o;
  o.kernel = "/k/vmlinuz";
  o.initrd = "/k/initrd";
  o.ram_bytes = 512ull << 20;
  return o;
}
RunResources run() { return {7, "/run/x/console.log", "/run/x/agent.sock", {}}; }

// The argument that follows `flag` whose value contains `needle`.
bool has_pair(const std::vector<std::string>& argv, const std::string& flag, const std::string& needle) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1].find(needle) != std::string::npos) return true;
  }
  return false;
}
}  // namespace

BOOST_AUTO_TEST_CASE(guest_ram_is_the_shared_memfd_and_the_machine_uses_it) {
  const auto argv = qemu_command(basic(), run());
  BOOST_TEST(has_pair(argv, "-object", "memory-backend-file,id=vscsim-ram,size=512M,mem-path=/proc/self/fd/7,share=on"));
  BOOST_TEST(has_pair(argv, "-machine", "q35,memory-backend=vscsim-ram"));
  BOOST_TEST(has_pair(argv, "-m", "512M"));
}

BOOST_AUTO_TEST_CASE(tcg_is_used_unless_kvm_is_chosen) {
  auto argv = qemu_command(basic(), run());
  BOOST_TEST(has_pair(argv, "-accel", "tcg"));
  auto o = basic();
  o.accel = Accel::Kvm;
  argv = qemu_command(o, run());
  BOOST_TEST(has_pair(argv, "-accel", "kvm"));
  BOOST_TEST(has_pair(argv, "-cpu", "host"));
}

BOOST_AUTO_TEST_CASE(auto_accel_must_be_resolved_before_building_the_command) {
  auto o = basic();
  o.accel = Accel::Auto;
  BOOST_CHECK_THROW(qemu_command(o, run()), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(ram_must_be_whole_mebibytes) {
  auto o = basic();
  o.ram_bytes = (512ull << 20) + 4096;
  BOOST_CHECK_THROW(qemu_command(o, run()), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(console_goes_to_the_log_file_and_serial_uses_it) {
  const auto argv = qemu_command(basic(), run());
  BOOST_TEST(has_pair(argv, "-chardev", "file,id=vscsim-console,path=/run/x/console.log"));
  BOOST_TEST(has_pair(argv, "-serial", "chardev:vscsim-console"));
  auto o = basic();
  o.console_on_stdio = true;
  BOOST_TEST(has_pair(qemu_command(o, run()), "-chardev", "stdio,id=vscsim-console,signal=off,logfile=/run/x/console.log"));
}

BOOST_AUTO_TEST_CASE(agent_port_is_a_virtio_serial_port_on_the_run_socket) {
  const auto argv = qemu_command(basic(), run());
  BOOST_TEST(has_pair(argv, "-chardev", "socket,id=vscsim-agent,path=/run/x/agent.sock,server=on,wait=off"));
  BOOST_TEST(has_pair(argv, "-device", std::string("name=") + kAgentPortName));
}

BOOST_AUTO_TEST_CASE(kernel_command_line_over_the_x86_limit_is_refused) {
  auto o = basic();
  o.kernel_args = {std::string(2047 - std::string("console=ttyS0 panic=-1 ").size(), 'x')};
  BOOST_CHECK_NO_THROW(qemu_command(o, run()));
  o.kernel_args[0] += 'x';
  BOOST_CHECK_THROW(qemu_command(o, run()), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(run_script_goes_through_fw_cfg_only_when_given) {
  auto argv = qemu_command(basic(), run());
  BOOST_TEST(std::count(argv.begin(), argv.end(), "-fw_cfg") == 0);
  auto r = run();
  r.run_script = "/run/x/run.sh";
  argv = qemu_command(basic(), r);
  BOOST_TEST(has_pair(argv, "-fw_cfg", "name=opt/org.vscsim/run,file=/run/x/run.sh"));
}

BOOST_AUTO_TEST_CASE(gdbstub_listens_on_loopback_only_and_disables_kaslr) {
  auto o = basic();
  const auto without = qemu_command(o, run());
  BOOST_TEST(std::count(without.begin(), without.end(), "-gdb") == 0);
  o.gdb_port = 1234;
  o.gdb_wait = true;
  const auto argv = qemu_command(o, run());
  BOOST_TEST(has_pair(argv, "-gdb", "tcp:127.0.0.1:1234"));
  BOOST_TEST(std::count(argv.begin(), argv.end(), "-S") == 1);
  BOOST_TEST(kernel_command_line(o).find("nokaslr") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kernel_command_line_panics_to_exit_and_carries_extra_args) {
  auto o = basic();
  o.kernel_args = {"vscsim.load=vsc_smoke", "vscsim.then=poweroff"};
  const auto line = kernel_command_line(o);
  BOOST_TEST(line == "console=ttyS0 panic=-1 vscsim.load=vsc_smoke vscsim.then=poweroff");
  const auto argv = qemu_command(o, run());
  BOOST_TEST(std::count(argv.begin(), argv.end(), "-no-reboot") == 1);
  BOOST_TEST(has_pair(argv, "-append", line));
}

BOOST_AUTO_TEST_CASE(user_network_adds_a_virtio_net_card_and_tells_init) {
  auto o = basic();
  const auto without = qemu_command(o, run());
  BOOST_TEST(std::count(without.begin(), without.end(), "-netdev") == 0);
  BOOST_TEST(kernel_command_line(o).find("vscsim.net") == std::string::npos);
  o.user_network = true;
  const auto argv = qemu_command(o, run());
  BOOST_TEST(has_pair(argv, "-netdev", "user,id=vscsim-net,ipv6=off"));
  BOOST_TEST(has_pair(argv, "-device", "virtio-net-pci,netdev=vscsim-net,romfile="));
  BOOST_TEST(kernel_command_line(o).find(" vscsim.net=1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(firmware_is_qemus_default_unless_given) {
  auto o = basic();
  const auto without = qemu_command(o, run());
  BOOST_TEST(std::count(without.begin(), without.end(), "-bios") == 0);
  o.firmware = "/usr/share/qemu/qboot.rom";
  const auto argv = qemu_command(o, run());
  BOOST_TEST(has_pair(argv, "-bios", "/usr/share/qemu/qboot.rom"));
}

BOOST_AUTO_TEST_CASE(tcg_guests_may_have_a_second_cpu_so_barriers_are_real) {
  auto o = basic();
  o.accel = Accel::Tcg;
  BOOST_TEST(has_pair(qemu_command(o, run()), "-smp", "1,maxcpus=2"));
  o.cpus = 2;
  BOOST_TEST(has_pair(qemu_command(o, run()), "-smp", "2"));
  BOOST_TEST(smp_argument(o) == "2");
  o.cpus = 1;
  o.accel = Accel::Kvm;
  BOOST_TEST(smp_argument(o) == "1");
}

BOOST_AUTO_TEST_CASE(each_ivshmem_device_gets_its_own_chardev_on_its_server_socket) {
  auto o = basic();
  o.ivshmem = {{"/run/a/vsp-sim.sock", 2}, {"/run/b.sock", 4}};
  const auto a = qemu_command(o, run());
  BOOST_TEST(has_pair(a, "-chardev", "socket,path=/run/a/vsp-sim.sock,id=vscsim-ivshmem0"));
  BOOST_TEST(has_pair(a, "-device", "ivshmem-doorbell,chardev=vscsim-ivshmem0,vectors=2"));
  BOOST_TEST(has_pair(a, "-chardev", "socket,path=/run/b.sock,id=vscsim-ivshmem1"));
  BOOST_TEST(has_pair(a, "-device", "ivshmem-doorbell,chardev=vscsim-ivshmem1,vectors=4"));
}

BOOST_AUTO_TEST_CASE(backend_names_parse_and_print) {
  BOOST_TEST((parse_backend("qemu") == Backend::Qemu));
  BOOST_TEST((parse_backend("libvirt") == Backend::Libvirt));
  BOOST_TEST(!parse_backend("virsh").has_value());
  BOOST_TEST(to_string(Backend::Libvirt) == "libvirt");
}
