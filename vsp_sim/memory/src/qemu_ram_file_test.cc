#include "vscsim/memory/qemu_ram_file.h"

#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <unistd.h>

namespace vm = vscsim::memory;

BOOST_AUTO_TEST_SUITE(qemu_ram_file)

// Shaped like a libvirt-started QEMU's maps: the RAM file, the ivshmem BAR2
// memfd (smaller), private file mappings and anonymous memory (larger).
constexpr const char* kLibvirtMaps =
    "55d0c0a00000-55d0c0e00000 r-xp 00000000 08:01 1234 /usr/bin/qemu-system-x86_64\n"
    "7f0000000000-7f0040000000 rw-p 00000000 00:00 0 \n"
    "7f1000000000-7f1020000000 rw-s 00000000 00:2a 77 /var/lib/libvirt/qemu/ram/3-vscsim-1/pc.ram\n"
    "7f2000000000-7f2000400000 rw-s 00000000 00:01 88 /memfd:vscsim-bar2 (deleted)\n"
    "7f3000000000-7f3000010000 rw-s 00000000 00:00 0 [vvar]\n"
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]\n";

BOOST_AUTO_TEST_CASE(picks_the_largest_shared_file_mapping) {
  auto m = vm::largest_shared_file_mapping(kLibvirtMaps);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m->path == "/var/lib/libvirt/qemu/ram/3-vscsim-1/pc.ram");
  BOOST_TEST(m->size() == 0x20000000u);
  // A named file is opened by its name.
  BOOST_TEST(vm::openable_path(42, *m) == "/var/lib/libvirt/qemu/ram/3-vscsim-1/pc.ram");
}

BOOST_AUTO_TEST_CASE(a_memfd_or_deleted_file_is_reached_through_map_files) {
  auto m = vm::largest_shared_file_mapping(
      "7f2000000000-7f2040000000 rw-s 00000000 00:01 88 /memfd:vscsim-guest-ram (deleted)\n");
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(vm::openable_path(42, *m) == "/proc/42/map_files/7f2000000000-7f2040000000");
  auto spaced = vm::largest_shared_file_mapping("1000-3000 rw-s 00000000 00:01 88 /tmp/a b.ram (deleted)\n");
  BOOST_REQUIRE(spaced.ok());
  BOOST_TEST(spaced->path == "/tmp/a b.ram (deleted)");
  BOOST_TEST(vm::openable_path(7, *spaced) == "/proc/7/map_files/1000-3000");
}

BOOST_AUTO_TEST_CASE(no_shared_mapping_or_garbage_is_an_error) {
  auto none = vm::largest_shared_file_mapping("1000-2000 rw-p 00000000 00:00 0 /bin/x\n");
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST(none.error().find("share=on") != std::string::npos);
  auto bad = vm::largest_shared_file_mapping("zzzz rw-s 0 0 0 /x\n");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().find("line 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(finds_a_shared_memfd_of_this_process) {
  // 64 MiB shared memfd: larger than anything else this test process maps shared.
  const int fd = ::memfd_create("qemu-ram-file-test", MFD_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  const std::size_t size = 64u << 20;
  BOOST_REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  BOOST_REQUIRE(p != MAP_FAILED);
  auto path = vm::find_qemu_ram_file(::getpid());
  BOOST_REQUIRE(path.ok());
  BOOST_TEST(path->find("/map_files/") != std::string::npos, *path);
  BOOST_TEST(::access(path->c_str(), R_OK) == 0, *path);
  ::munmap(p, size);
  ::close(fd);
  BOOST_TEST(!vm::find_qemu_ram_file(999999999).ok());
}

BOOST_AUTO_TEST_SUITE_END()
