// What only the directory store promises: it survives a restart, no name
// reaches outside its root, and it refuses directories that are not its own.
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "blob_file.h"
#include "blobstore_test_util.h"
#include "vscsim/blobstore/directory_store.h"

namespace bs = vscsim::blobstore;
namespace fs = std::filesystem;
using bs::testing::pattern;
using namespace std::string_literals;

namespace {

std::unique_ptr<bs::Store> open_store(const fs::path& root, bs::Limits limits = {}) {
  auto s = bs::open_directory_store(root, limits);
  BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
  return std::move(s).value();
}

std::vector<std::byte> get_all(bs::Store& s, std::string_view c, std::string_view b) {
  std::vector<std::byte> out(1 << 20);
  auto r = s.get(c, b, {}, out);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  out.resize(r->length);
  return out;
}

// Every path below `dir`, relative to it.
std::set<std::string> tree(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

// Names that would be paths of their own if used as file names.
const std::vector<std::string> kHostileNames = {
    "../escape", "../../etc/passwd", "a/b/c", "..", ".", "./x", "x/..", "%2F..%2F", "%",
    "with space", "\xc3\xa9t\xc3\xa9", "back\\slash", std::string(1024, '.'),
    std::string(1000, 'a') + "/../../z", std::string(100, '/').insert(0, "x"),
};

}  // namespace

BOOST_AUTO_TEST_CASE(escaped_file_names_hold_no_separator_and_differ_for_different_names) {
  BOOST_TEST(bs::detail::escape_name("../x") == "..%2Fx");
  BOOST_TEST(bs::detail::escape_name("%2F") == "%252F");  // '%' itself is escaped: injective
  BOOST_TEST(bs::detail::escape_name("a\xff") == "a%FF");
  BOOST_TEST(*bs::detail::readable_file_name("..") == "b-..");
  BOOST_TEST(bs::detail::readable_file_name(std::string(200, 'a')).has_value());
  BOOST_TEST(!bs::detail::readable_file_name(std::string(201, 'a')).has_value());
  BOOST_TEST(!bs::detail::readable_file_name(std::string(67, '/')).has_value());  // 201 escaped
  std::set<std::string> seen;
  for (const auto& n : kHostileNames) {
    const std::string e = bs::detail::escape_name(n);
    BOOST_TEST(e.find('/') == std::string::npos);
    BOOST_TEST(e.find('\0') == std::string::npos);
    BOOST_TEST(seen.insert(e).second, "two names escape alike: " << e);
  }
}

BOOST_AUTO_TEST_CASE(hostile_blob_names_stay_inside_their_container_directory) {
  bs::testing::TempDir tmp;
  const fs::path root = tmp.path / "store";
  auto s = open_store(root);
  BOOST_REQUIRE(s->create_container("c").ok());
  std::uint32_t seed = 1;
  for (const auto& n : kHostileNames) {
    auto r = s->put("c", n, pattern(100, seed++));
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  }
  // A name with NUL is refused before any file is made.
  BOOST_TEST(!s->put("c", "a\0/../../x"s, pattern(1)).ok());

  // Nothing beside the root; inside it, the marker and one file per blob,
  // all directly in c-c/.
  std::set<std::string> beside_root;
  for (const auto& e : fs::directory_iterator(tmp.path)) beside_root.insert(e.path().filename());
  BOOST_TEST(beside_root == std::set<std::string>({"store"}), boost::test_tools::per_element());
  std::size_t blobs = 0;
  for (const auto& rel : tree(root)) {
    if (rel == "VSCSIM-BLOBSTORE" || rel == "c-c") continue;
    const fs::path p(rel);
    BOOST_TEST(p.parent_path() == "c-c", rel);
    const std::string f = p.filename().string();
    BOOST_TEST((f.rfind("b-", 0) == 0 || f.rfind("n-", 0) == 0), rel);
    BOOST_TEST(fs::is_regular_file(root / p), rel);
    ++blobs;
  }
  BOOST_TEST(blobs == kHostileNames.size());
  seed = 1;
  for (const auto& n : kHostileNames) BOOST_TEST((get_all(*s, "c", n) == pattern(100, seed++)), n.size());
}

BOOST_AUTO_TEST_CASE(a_reopened_store_has_the_same_blobs_bytes_and_generations) {
  bs::testing::TempDir tmp;
  const fs::path root = tmp.path / "store";
  const std::string long_name = std::string(1000, 'l') + "/\xc3\xa9";
  {
    auto s = open_store(root);
    BOOST_REQUIRE(s->create_container("keep").ok());
    BOOST_REQUIRE(s->create_container("empty").ok());
    BOOST_REQUIRE(s->put("keep", "a", pattern(4097, 1)).ok());
    BOOST_REQUIRE(s->put("keep", "a", pattern(4096, 2)).ok());  // generation 2
    BOOST_REQUIRE(s->put("keep", long_name, pattern(1 << 20, 3)).ok());
    BOOST_REQUIRE(s->put("keep", "../zero", {}).ok());
    BOOST_REQUIRE(s->put("keep", "gone", pattern(9)).ok());
    BOOST_REQUIRE(s->delete_blob("keep", "gone").ok());
  }  // the store is destroyed: files, not memory, carry on
  auto s = open_store(root);
  const auto containers = s->list_containers({});
  BOOST_REQUIRE(containers.ok());
  BOOST_REQUIRE_EQUAL(containers->entries.size(), 2u);
  BOOST_TEST((containers->entries[0] == bs::BlobInfo{"empty", 0, 0}));
  BOOST_TEST((containers->entries[1] == bs::BlobInfo{"keep", 3, 0}));
  const auto blobs = s->list_blobs("keep", {});
  BOOST_REQUIRE(blobs.ok());
  BOOST_REQUIRE_EQUAL(blobs->entries.size(), 3u);
  BOOST_TEST((blobs->entries[0] == bs::BlobInfo{"../zero", 0, 1}));
  BOOST_TEST((blobs->entries[1] == bs::BlobInfo{"a", 4096, 2}));
  BOOST_TEST((blobs->entries[2] == bs::BlobInfo{long_name, 1 << 20, 1}));
  BOOST_TEST((get_all(*s, "keep", "a") == pattern(4096, 2)));
  BOOST_TEST((get_all(*s, "keep", long_name) == pattern(1 << 20, 3)));
  BOOST_TEST(s->used_bytes() == 4096u + (1u << 20));
  // Generations go on from where they were; a second long name gets a
  // file of its own.
  BOOST_TEST(s->put("keep", "a", pattern(1))->generation == 3u);
  BOOST_TEST(s->put("keep", long_name + "2", pattern(5, 5))->generation == 1u);
  BOOST_TEST((get_all(*s, "keep", long_name) == pattern(1 << 20, 3)));
  BOOST_TEST((get_all(*s, "keep", long_name + "2") == pattern(5, 5)));
  BOOST_TEST(s->delete_container("empty").ok());
  s.reset();
  s = open_store(root);
  BOOST_TEST(s->stat("keep", "a")->generation == 3u);
  BOOST_TEST(s->list_containers({})->entries.size() == 1u);
  BOOST_TEST((get_all(*s, "keep", long_name + "2") == pattern(5, 5)));
}

BOOST_AUTO_TEST_CASE(an_interrupted_put_leaves_the_old_blob_and_its_temp_file_is_cleared) {
  bs::testing::TempDir tmp;
  const fs::path root = tmp.path / "store";
  {
    auto s = open_store(root);
    BOOST_REQUIRE(s->create_container("c").ok());
    BOOST_REQUIRE(s->put("c", "b", pattern(10)).ok());
  }
  // What a crash between write and rename leaves behind.
  std::ofstream(root / "c-c" / ".tmp-0") << "half a blob";
  auto s = open_store(root);
  BOOST_TEST(!fs::exists(root / "c-c" / ".tmp-0"));
  BOOST_TEST((get_all(*s, "c", "b") == pattern(10)));
  BOOST_TEST(s->stat("c", "b")->generation == 1u);
}

BOOST_AUTO_TEST_CASE(one_store_per_root_and_foreign_or_damaged_directories_are_refused) {
  bs::testing::TempDir tmp;
  const fs::path root = tmp.path / "store";
  {
    auto first = open_store(root);
    auto second = bs::open_directory_store(root);
    BOOST_REQUIRE(!second.ok());
    BOOST_TEST(second.error().message.find("in use") != std::string::npos, second.error().message);
    BOOST_REQUIRE(first->create_container("c").ok());
    BOOST_REQUIRE(first->put("c", "b", pattern(10)).ok());
  }
  // A directory with someone else's files is not taken over.
  const fs::path foreign = tmp.path / "foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign / "notes.txt") << "mine";
  auto refused = bs::open_directory_store(foreign);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().code == bs::ErrorCode::kInternal);
  BOOST_TEST(tree(foreign) == std::set<std::string>({"notes.txt"}));

  // A blob file cut short is reported, not served.
  fs::resize_file(root / "c-c" / "b-b", 40);
  auto damaged = bs::open_directory_store(root);
  BOOST_REQUIRE(!damaged.ok());
  BOOST_TEST(damaged.error().message.find("b-b") != std::string::npos, damaged.error().message);
}
