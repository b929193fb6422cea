#define BOOST_TEST_MODULE domain_xml_test
#include "vscsim/libvirt/domain_xml.h"

#include <boost/test/unit_test.hpp>

using namespace vscsim;
using libvirt::domain_xml;

namespace {

launcher::LaunchOptions basic() {
  launcher::LaunchOptions o;
  o.name = "vscsim-1-2";
  o.kernel = "/build/vmlinuz";
  o.ram_bytes = 512ull << 20;
  o.ivshmem = {{"/tmp/run/vsp-sim.sock", 2}};
  return o;
}

libvirt::DomainFiles files() {
  libvirt::DomainFiles f;
  f.emulator = "/usr/bin/qemu-system-x86_64";
  f.kernel = "/tmp/run/vmlinuz";
  f.initrd = "/tmp/run/initramfs.cpio";
  f.console_log = "/tmp/run/console.log";
  f.agent_socket = "/tmp/run/agent.sock";
  return f;
}

bool has(const std::string& xml, const std::string& part) { return xml.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(tcg_domain_with_shared_file_ram_and_a_spare_cpu) {
  const auto x = domain_xml(basic(), files());
  BOOST_TEST(x.rfind("<domain type='qemu'>", 0) == 0u, x);
  BOOST_TEST(has(x, "<name>vscsim-1-2</name>"));
  BOOST_TEST(has(x, "<memory unit='MiB'>512</memory>"));
  BOOST_TEST(has(x, "<source type='file'/>"));
  BOOST_TEST(has(x, "<access mode='shared'/>"));
  // The QEMU backend's smp rule: TCG needs room for a second CPU.
  BOOST_TEST(has(x, "<vcpu placement='static' current='1'>2</vcpu>"), x);
  BOOST_TEST(has(x, "<type arch='x86_64' machine='q35'>hvm</type>"));
  BOOST_TEST(has(x, "<kernel>/tmp/run/vmlinuz</kernel>"));
  BOOST_TEST(has(x, "<initrd>/tmp/run/initramfs.cpio</initrd>"));
  BOOST_TEST(!has(x, "<loader"));
  BOOST_TEST(!has(x, "<sysinfo"));
  BOOST_TEST(!has(x, "<interface"));
  BOOST_TEST(has(x, "<on_reboot>destroy</on_reboot>"));
  BOOST_TEST(has(x, "<emulator>/usr/bin/qemu-system-x86_64</emulator>"));
}

BOOST_AUTO_TEST_CASE(kvm_domain_passes_the_host_cpu_and_starts_all_cpus) {
  auto o = basic();
  o.accel = launcher::Accel::Kvm;
  o.cpus = 2;
  const auto x = domain_xml(o, files());
  BOOST_TEST(x.rfind("<domain type='kvm'>", 0) == 0u);
  BOOST_TEST(has(x, "<vcpu placement='static' current='2'>2</vcpu>"));
  BOOST_TEST(has(x, "<cpu mode='host-passthrough'/>"));
}

BOOST_AUTO_TEST_CASE(console_agent_ivshmem_and_run_script_are_the_backends_devices) {
  auto o = basic();
  o.ivshmem.push_back({"/tmp/run/second.sock", 4});
  o.user_network = true;
  auto f = files();
  f.run_script = "/tmp/run/run.sh";
  f.firmware = "/tmp/run/qboot.rom";
  const auto x = domain_xml(o, f);
  BOOST_TEST(has(x, "<source path='/tmp/run/console.log' append='off'/>"));
  BOOST_TEST(has(x, "<source mode='bind' path='/tmp/run/agent.sock'/>"));
  BOOST_TEST(has(x, "<target type='virtio' name='org.vscsim.agent.0'/>"));
  BOOST_TEST(has(x, "<shmem name='vscsim-ivshmem0'>\n      <model type='ivshmem-doorbell'/>\n"
                    "      <server path='/tmp/run/vsp-sim.sock'/>\n      <msi vectors='2' ioeventfd='on'/>"), x);
  BOOST_TEST(has(x, "<server path='/tmp/run/second.sock'/>\n      <msi vectors='4'"));
  BOOST_TEST(has(x, "<entry name='opt/org.vscsim/run' file='/tmp/run/run.sh'/>"));
  BOOST_TEST(has(x, "<loader type='rom'>/tmp/run/qboot.rom</loader>"));
  BOOST_TEST(has(x, "<interface type='user'>"));
  // The kernel command line is the QEMU backend's, vscsim.net=1 included.
  BOOST_TEST(has(x, "<cmdline>console=ttyS0 panic=-1 vscsim.net=1</cmdline>"), x);
}

BOOST_AUTO_TEST_CASE(text_from_the_user_is_escaped) {
  auto o = basic();
  o.name = "a<b>&'c\"";
  o.kernel_args = {"vscsim.run=\"x && y <z>\""};
  auto f = files();
  f.kernel = "/tmp/it's/vmlinuz";
  const auto x = domain_xml(o, f);
  BOOST_TEST(has(x, "<name>a&lt;b&gt;&amp;&apos;c&quot;</name>"));
  BOOST_TEST(has(x, "vscsim.run=&quot;x &amp;&amp; y &lt;z&gt;&quot;</cmdline>"));
  BOOST_TEST(has(x, "<kernel>/tmp/it&apos;s/vmlinuz</kernel>"));
}

BOOST_AUTO_TEST_CASE(options_a_domain_cannot_express_are_refused) {
  BOOST_TEST(libvirt::unsupported_option(basic()) == "");
  auto o = basic();
  o.extra_args = {"-S"};
  BOOST_TEST(libvirt::unsupported_option(o).find("extra QEMU arguments") != std::string::npos);
  o = basic();
  o.console_on_stdio = true;
  BOOST_TEST(libvirt::unsupported_option(o).find("virsh console") != std::string::npos);
  o = basic();
  o.gdb_port = 1234;
  BOOST_TEST(libvirt::unsupported_option(o).find("qemu backend") != std::string::npos);
  o = basic();
  o.accel = launcher::Accel::Auto;
  BOOST_TEST(libvirt::unsupported_option(o).find("resolved") != std::string::npos);
}
