#define BOOST_TEST_MODULE gdb_script
#include <boost/test/unit_test.hpp>

#include "vscsim/gdb/script.h"

using namespace vscsim::gdb;

namespace {

ScriptInput two_modules() {
  ScriptInput in;
  in.vmlinux = "/cache/kernel-dbg/6.1.176-1-cloud-amd64/vmlinux-6.1.0-50-cloud-amd64";
  in.notes = {"Kernel: the -dbg vmlinux"};
  in.port = 1234;
  in.source_dirs = {"/cache/kernel-tree/6.1.176-1"};
  in.modules = {
      {"vscsim_vmbus",
       "/b/modules/vscsim_vmbus.ko",
       {{".bss", 0xffffffffc0210000}, {".data", 0xffffffffc020e000}, {".init.text", 0xffffffffc0218000},
        {".symtab", 0xffffffffc0262000}, {".text", 0xffffffffc0200000}}},
      {"az_blob",
       "/b/modules/az_blob.ko",
       {{".exit.text", 0xffffffffc0222a00}, {".init.data", 0xffffffffc0228100}, {".rodata", 0xffffffffc0223000},
        {".text", 0xffffffffc0220000}, {"__param", 0xffffffffc0223a00}}},
  };
  in.self = "/tmp/vscsim-gdb-1234.gdb";
  in.regenerate_command = "/b/bin/vsc-gdb --agent /run/agent.sock --port 1234 --out /tmp/vscsim-gdb-1234.gdb";
  return in;
}

}  // namespace

BOOST_AUTO_TEST_CASE(script_loads_kernel_connects_and_places_each_module_at_its_sections) {
  const auto text = render_script(two_modules());
  BOOST_REQUIRE_MESSAGE(text.ok(), (text.ok() ? std::string() : text.error()));
  BOOST_TEST(text.value() ==
             "# Written by vsc-guest --gdb (docs/gdb.md); vsc-reload-modules rewrites it.\n"
             "# Kernel: the -dbg vmlinux\n"
             "set confirm off\n"
             "symbol-file\n"
             "file /cache/kernel-dbg/6.1.176-1-cloud-amd64/vmlinux-6.1.0-50-cloud-amd64\n"
             "directory /cache/kernel-tree/6.1.176-1\n"
             "target remote 127.0.0.1:1234\n"
             "add-symbol-file /b/modules/vscsim_vmbus.ko 0xffffffffc0200000 -s .bss 0xffffffffc0210000 "
             "-s .data 0xffffffffc020e000\n"
             "add-symbol-file /b/modules/az_blob.ko 0xffffffffc0220000 -s .exit.text 0xffffffffc0222a00 "
             "-s .rodata 0xffffffffc0223000 -s __param 0xffffffffc0223a00\n"
             "define vsc-reload-modules\n"
             "  detach\n"
             "  shell /b/bin/vsc-gdb --agent /run/agent.sock --port 1234 --out /tmp/vscsim-gdb-1234.gdb\n"
             "  source /tmp/vscsim-gdb-1234.gdb\n"
             "end\n"
             "document vsc-reload-modules\n"
             "Reload the project modules' symbols after they were unloaded or loaded again in the guest:\n"
             "detach (the guest runs on), rewrite this script with the modules' addresses now, source it\n"
             "again (gdb reconnects and the guest stops). Breakpoints are kept.\n"
             "end\n"
             "set confirm on\n");
}

BOOST_AUTO_TEST_CASE(script_without_modules_still_connects) {
  auto in = two_modules();
  in.modules.clear();
  in.source_dirs.clear();
  const auto text = render_script(in);
  BOOST_REQUIRE(text.ok());
  BOOST_TEST(text.value().find("add-symbol-file") == std::string::npos);
  BOOST_TEST(text.value().find("target remote 127.0.0.1:1234\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(script_refuses_a_module_without_text_and_paths_gdb_would_split) {
  auto in = two_modules();
  in.modules[1].sections.erase(in.modules[1].sections.begin() + 3);
  auto text = render_script(in);
  BOOST_REQUIRE(!text.ok());
  BOOST_TEST(text.error() == "module az_blob has no .text section listed");

  in = two_modules();
  in.modules[0].object = "/my modules/vscsim_vmbus.ko";
  text = render_script(in);
  BOOST_REQUIRE(!text.ok());
  BOOST_TEST(text.error() == "gdb cannot take the path '/my modules/vscsim_vmbus.ko' as one word");
}

BOOST_AUTO_TEST_CASE(freed_init_sections_and_the_kernels_symbol_table_copy_are_not_placed) {
  BOOST_TEST(!placed_section(".init.text"));
  BOOST_TEST(!placed_section(".init.data"));
  BOOST_TEST(!placed_section(".symtab"));
  BOOST_TEST(!placed_section(".strtab"));
  BOOST_TEST(placed_section(".exit.text"));
  BOOST_TEST(placed_section(".text"));
  BOOST_TEST(placed_section(".text.unlikely"));
  BOOST_TEST(placed_section("__param"));
}

BOOST_AUTO_TEST_CASE(sections_parse_from_the_guests_listing) {
  const auto s = parse_sections(".bss 0xffffffffc0210000\n\n.text 0xFFFFFFFFC0200000\r\n__param ffffffffc0223a00");
  BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error()));
  BOOST_TEST(s->size() == 3u);
  BOOST_TEST((s->at(0) == Section{".bss", 0xffffffffc0210000}));
  BOOST_TEST((s->at(1) == Section{".text", 0xffffffffc0200000}));
  BOOST_TEST((s->at(2) == Section{"__param", 0xffffffffc0223a00}));

  auto bad = parse_sections(".text 0xffffffffc0200000\n.data\n");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error() == "line 2: no address: '.data'");
  bad = parse_sections(".text 0xzz\n");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error() == "line 1: not a hex address: '.text 0xzz'");
  bad = parse_sections(".text 0x\n");
  BOOST_TEST(!bad.ok());
}

BOOST_AUTO_TEST_CASE(module_names_come_from_proc_modules_newest_first) {
  const auto names = module_names(
      "az_blob 36864 0 - Live 0xffffffffc0220000\n"
      "vscsim_vmbus 61440 1 az_blob, Live 0xffffffffc0200000 (O)\n");
  BOOST_TEST((names == std::vector<std::string>{"az_blob", "vscsim_vmbus"}));
  BOOST_TEST(module_names("").empty());
}

BOOST_AUTO_TEST_CASE(shell_words_are_quoted_only_when_needed) {
  BOOST_TEST(shell_quote("/b/bin/vsc-gdb") == "/b/bin/vsc-gdb");
  BOOST_TEST(shell_quote("a b") == "'a b'");
  BOOST_TEST(shell_quote("it's") == "'it'\\''s'");
  BOOST_TEST(shell_quote("") == "''");
}
