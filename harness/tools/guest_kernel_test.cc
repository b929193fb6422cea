#define BOOST_TEST_MODULE guest_kernel
#include "guest_kernel.h"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>

namespace {

namespace fs = std::filesystem;
using vscsim::tools::KernelPaths;
using vscsim::tools::resolve_guest_kernel;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "guest-kernel-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

KernelPaths paths_in(const fs::path& root) {
  KernelPaths p;
  p.stock_kernel = root / "stock/vmlinuz";
  p.stock_initrd = root / "stock/initramfs";
  p.stock_build_dir = root / "stock/headers";
  p.stock_vmbus_symvers = root / "stock/Module.symvers";
  p.debug = {root / "debug/vmlinuz", root / "debug/initramfs", root / "debug/obj", root / "debug/Module.symvers",
             "6.1.0-vscsim-debug", "debug_guest"};
  p.fast = {root / "fast/vmlinux", root / "fast/initramfs", root / "fast/obj", root / "fast/Module.symvers",
            "6.1.0-vscsim-fast", "fast_guest"};
  p.cache_dir = root / "cache";
  return p;
}

BOOST_AUTO_TEST_CASE(stock_is_the_pinned_kernel_with_its_own_module_tree) {
  TempDir d;
  const auto p = paths_in(d.path);
  touch(p.stock_initrd);
  const auto g = resolve_guest_kernel("stock", p);
  BOOST_TEST_REQUIRE(g.ok(), (g.ok() ? "" : g.error()));
  BOOST_TEST(g->kernel == p.stock_kernel);
  BOOST_TEST(g->initrd == p.stock_initrd);
  BOOST_TEST(g->module_build_dir == p.stock_build_dir);
  BOOST_TEST(!g->debug);
  BOOST_TEST(g->kernel_args.empty());
}

BOOST_AUTO_TEST_CASE(debug_not_built_says_which_file_and_how_to_build_it) {
  TempDir d;
  const auto p = paths_in(d.path);
  touch(p.stock_initrd);
  touch(p.debug.kernel);  // the kernel alone is not enough: its initramfs and modules are missing
  const auto g = resolve_guest_kernel("debug", p);
  BOOST_TEST_REQUIRE(!g.ok());
  BOOST_TEST(g.error().find("6.1.0-vscsim-debug") != std::string::npos, g.error());
  BOOST_TEST(g.error().find(p.debug.initrd.string()) != std::string::npos, g.error());
  BOOST_TEST(g.error().find("--target debug_guest") != std::string::npos, g.error());
}

BOOST_AUTO_TEST_CASE(debug_built_boots_its_initramfs_with_a_short_hung_task_timeout) {
  TempDir d;
  const auto p = paths_in(d.path);
  for (const auto& f : {p.stock_initrd, p.debug.kernel, p.debug.initrd, p.debug.vmbus_symvers}) touch(f);
  const auto g = resolve_guest_kernel("debug", p);
  BOOST_TEST_REQUIRE(g.ok(), (g.ok() ? "" : g.error()));
  BOOST_TEST(g->debug);
  BOOST_TEST(g->kernel == p.debug.kernel);
  BOOST_TEST(g->initrd == p.debug.initrd);
  BOOST_TEST(g->module_build_dir == p.debug.build_dir);
  BOOST_TEST(g->vmbus_symvers == p.debug.vmbus_symvers);
  BOOST_TEST(g->kernel_args ==
                 (std::vector<std::string>{"sysctl.kernel.hung_task_timeout_secs=10", "kasan_multi_shot"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fast_boots_its_own_image_and_initramfs_without_the_lapic_timer) {
  TempDir d;
  const auto p = paths_in(d.path);
  touch(p.stock_initrd);
  auto g = resolve_guest_kernel("fast", p);
  BOOST_TEST_REQUIRE(!g.ok());
  BOOST_TEST(g.error().find("6.1.0-vscsim-fast") != std::string::npos, g.error());
  BOOST_TEST(g.error().find("--target fast_guest") != std::string::npos, g.error());
  for (const auto& f : {p.fast.kernel, p.fast.initrd, p.fast.vmbus_symvers}) touch(f);
  g = resolve_guest_kernel("fast", p);
  BOOST_TEST_REQUIRE(g.ok(), (g.ok() ? "" : g.error()));
  BOOST_TEST(!g->debug);
  BOOST_TEST(g->modules_of == "fast");
  BOOST_TEST(g->kernel == p.fast.kernel);
  BOOST_TEST(g->initrd == p.fast.initrd);
  BOOST_TEST(g->module_build_dir == p.fast.build_dir);
  BOOST_TEST(g->kernel_args == (std::vector<std::string>{"nolapic_timer"}), boost::test_tools::per_element());
  BOOST_TEST(g->firmware == "/usr/share/qemu/qboot.rom");
}

BOOST_AUTO_TEST_CASE(an_image_path_boots_with_the_stock_initramfs_or_is_refused) {
  TempDir d;
  const auto p = paths_in(d.path);
  touch(p.stock_initrd);
  touch(d.path / "mine/bzImage");
  const auto g = resolve_guest_kernel((d.path / "mine/bzImage").string(), p);
  BOOST_TEST_REQUIRE(g.ok(), (g.ok() ? "" : g.error()));
  BOOST_TEST(g->kernel == d.path / "mine/bzImage");
  BOOST_TEST(g->initrd == p.stock_initrd);
  const auto missing = resolve_guest_kernel((d.path / "nope").string(), p);
  BOOST_TEST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().find("no such file") != std::string::npos, missing.error());
}

}  // namespace
