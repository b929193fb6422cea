#include "vscsim/blobstore/directory_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <vector>

#include "backing.h"
#include "blob_file.h"
#include "indexed_store.h"
#include "vscsim/blobstore/names.h"

namespace vscsim::blobstore {

namespace fs = std::filesystem;

namespace detail {

std::string escape_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (safe) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

std::optional<std::string> readable_file_name(std::string_view blob) {
  std::string escaped = escape_name(blob);
  if (escaped.size() > kMaxEscapedName) return std::nullopt;
  return std::string(kReadablePrefix) + escaped;
}

}  // namespace detail

namespace {

using detail::BlobFileHeader;

Unexpected<Error> io_error(std::string_view what, const fs::path& path, int err) {
  return Err(Error{ErrorCode::kInternal,
                   fmt::format("{} '{}': {}", what, path.string(), std::strerror(err))});
}

Unexpected<Error> damaged(const fs::path& path, std::string_view why) {
  return Err(Error{ErrorCode::kInternal, fmt::format("'{}': {}", path.string(), why)});
}

// Closes a descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  [[nodiscard]] int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Writes all of `bytes` (write(2) may write less; EINTR is retried).
bool write_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly n bytes at `offset`; false on error or a short file (errno
// is EIO for a file that ended early).
bool pread_all(int fd, void* data, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) {
      errno = EIO;
      return false;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

StoreResult<void> sync_directory(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) return io_error("syncing directory", dir, errno);
  return {};
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

class DirectoryBacking final : public detail::Backing {
 public:
  DirectoryBacking(fs::path root, DirectoryOptions options)
      : root_(std::move(root)), options_(options) {}

  StoreResult<std::vector<detail::LoadedContainer>> load() override;
  StoreResult<void> add_container(std::string_view container) override;
  StoreResult<void> remove_container(std::string_view container) override;
  StoreResult<void> write(std::string_view container, std::string_view blob,
                          std::uint64_t generation, std::span<const std::byte> data) override;
  StoreResult<void> read(std::string_view container, std::string_view blob, std::uint64_t offset,
                         std::span<std::byte> out) override;
  StoreResult<void> remove(std::string_view container, std::string_view blob) override;

 private:
  // Per container: blob name -> its file name, and the next free number for
  // long names.
  struct Files {
    std::map<std::string, std::string, std::less<>> by_name;
    std::uint64_t next_number = 0;
  };

  StoreResult<void> claim_root();
  StoreResult<detail::LoadedContainer> load_container(const fs::path& dir, std::string name);
  [[nodiscard]] fs::path container_dir(std::string_view container) const {
    return root_ / (std::string(detail::kContainerPrefix) + std::string(container));
  }
  StoreResult<void> sync_dir(const fs::path& dir) const {
    if (!options_.sync) return {};
    return sync_directory(dir);
  }
  Files* files_of(std::string_view container) {
    auto it = files_.find(container);
    return it == files_.end() ? nullptr : &it->second;
  }
  // The path of a blob the index knows; an error if this backing does not
  // (the index and the directory disagree: a bug, or files changed under us).
  StoreResult<fs::path> path_of(std::string_view container, std::string_view blob) {
    if (Files* files = files_of(container)) {
      if (auto it = files->by_name.find(blob); it != files->by_name.end()) {
        return container_dir(container) / it->second;
      }
    }
    return damaged(container_dir(container), "index and directory disagree");
  }

  fs::path root_;
  DirectoryOptions options_;
  Fd lock_;  // the marker file, flock'ed for the store's life
  std::map<std::string, Files, std::less<>> files_;
  std::uint64_t next_temp_ = 0;
};

StoreResult<void> DirectoryBacking::claim_root() {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return io_error("creating store root", root_, ec.value());
  if (!fs::is_directory(root_, ec)) return damaged(root_, "not a directory");
  const fs::path marker = root_ / detail::kMarkerFile;
  if (!fs::exists(marker, ec)) {
    if (!fs::is_empty(root_, ec) || ec) {
      return damaged(root_, fmt::format("not empty and not a blob store (no {})",
                                        detail::kMarkerFile));
    }
    Fd fd(::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd || !write_all(fd.get(), detail::kMarkerText.data(), detail::kMarkerText.size()) ||
        (options_.sync && ::fsync(fd.get()) != 0)) {
      return io_error("creating", marker, errno);
    }
    if (auto r = sync_dir(root_); !r.ok()) return r;
  }
  lock_ = Fd(::open(marker.c_str(), O_RDONLY | O_CLOEXEC));
  if (!lock_) return io_error("opening", marker, errno);
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return damaged(root_, "in use by another blob store");
    return io_error("locking", marker, errno);
  }
  char text[64] = {};
  const ssize_t got = ::pread(lock_.get(), text, sizeof text, 0);
  if (got != static_cast<ssize_t>(detail::kMarkerText.size()) ||
      std::string_view(text, static_cast<std::size_t>(got)) != detail::kMarkerText) {
    return damaged(marker, "unknown blob store format");
  }
  return {};
}

StoreResult<std::vector<detail::LoadedContainer>> DirectoryBacking::load() {
  if (auto r = claim_root(); !r.ok()) return Err(std::move(r.error()));
  std::vector<detail::LoadedContainer> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    if (!starts_with(file, detail::kContainerPrefix) || !it->is_directory(ec)) continue;
    std::string name = file.substr(detail::kContainerPrefix.size());
    if (!check_container_name(name).ok()) return damaged(it->path(), "not a container name");
    auto c = load_container(it->path(), std::move(name));
    if (!c.ok()) return Err(std::move(c.error()));
    out.push_back(std::move(c).value());
  }
  if (ec) return io_error("listing", root_, ec.value());
  return out;
}

StoreResult<detail::LoadedContainer> DirectoryBacking::load_container(const fs::path& dir,
                                                                      std::string name) {
  detail::LoadedContainer loaded{name, {}};
  Files files;
  std::vector<fs::path> temps;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path path = it->path();
    const std::string file = path.filename().string();
    if (starts_with(file, detail::kTempPrefix)) {
      temps.push_back(path);  // a put that never finished: the old blob stands
      continue;
    }
    const bool readable = starts_with(file, detail::kReadablePrefix);
    const bool numbered = starts_with(file, detail::kNumberedPrefix);
    if (!readable && !numbered) continue;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return io_error("opening", path, errno);
    BlobFileHeader h{};
    if (!pread_all(fd.get(), &h, sizeof h, 0)) return damaged(path, "no blob header");
    if (std::memcmp(h.magic, detail::kBlobMagic, sizeof h.magic) != 0 || h.reserved != 0 ||
        h.name_length == 0 || h.name_length > kMaxBlobName) {
      return damaged(path, "bad blob header");
    }
    const std::uint64_t expected = sizeof h + std::uint64_t{h.name_length} + h.size;
    if (h.size > (std::uint64_t{1} << 62) || static_cast<std::uint64_t>(st.st_size) != expected) {
      return damaged(path, fmt::format("{} bytes, the header says {}", st.st_size, expected));
    }
    std::string blob(h.name_length, '\0');
    if (!pread_all(fd.get(), blob.data(), blob.size(), sizeof h)) return damaged(path, "short name");
    if (!check_blob_name(blob).ok()) return damaged(path, "bad blob name");
    if (readable) {
      // The file name must be the one this name maps to, or two files
      // could claim one blob.
      if (detail::readable_file_name(blob) != file) return damaged(path, "name and file name differ");
    } else {
      std::uint64_t number = 0;
      const std::string_view digits = std::string_view(file).substr(detail::kNumberedPrefix.size());
      const auto [end_ptr, err] =
          std::from_chars(digits.data(), digits.data() + digits.size(), number);
      if (err != std::errc() || end_ptr != digits.data() + digits.size() ||
          detail::readable_file_name(blob).has_value() || number == UINT64_MAX) {
        return damaged(path, "bad numbered blob file");
      }
      files.next_number = std::max(files.next_number, number + 1);
    }
    if (!files.by_name.try_emplace(blob, file).second) return damaged(path, "a blob stored twice");
    loaded.blobs.push_back(BlobInfo{std::move(blob), h.size, h.generation});
  }
  if (ec) return io_error("listing", dir, ec.value());
  for (const auto& t : temps) {
    if (::unlink(t.c_str()) != 0) return io_error("removing", t, errno);
  }
  files_.insert_or_assign(std::move(name), std::move(files));
  return loaded;
}

StoreResult<void> DirectoryBacking::add_container(std::string_view container) {
  const fs::path dir = container_dir(container);
  if (::mkdir(dir.c_str(), 0755) != 0) return io_error("creating container", dir, errno);
  files_.insert_or_assign(std::string(container), Files{});
  return sync_dir(root_);
}

StoreResult<void> DirectoryBacking::remove_container(std::string_view container) {
  const fs::path dir = container_dir(container);
  if (::rmdir(dir.c_str()) != 0) return io_error("removing container", dir, errno);
  if (auto it = files_.find(container); it != files_.end()) files_.erase(it);
  return sync_dir(root_);
}

StoreResult<void> DirectoryBacking::write(std::string_view container, std::string_view blob,
                                          std::uint64_t generation,
                                          std::span<const std::byte> data) {
  Files* files = files_of(container);
  if (files == nullptr) return damaged(container_dir(container), "not loaded");
  std::string file;
  bool numbered = false;
  if (auto it = files->by_name.find(blob); it != files->by_name.end()) {
    file = it->second;
  } else if (auto readable = detail::readable_file_name(blob)) {
    file = *readable;
  } else {
    file = std::string(detail::kNumberedPrefix) + std::to_string(files->next_number);
    numbered = true;
  }
  const fs::path dir = container_dir(container);
  const fs::path temp = dir / (std::string(detail::kTempPrefix) + std::to_string(next_temp_++));
  const fs::path target = dir / file;

  BlobFileHeader h{};
  std::memcpy(h.magic, detail::kBlobMagic, sizeof h.magic);
  h.generation = generation;
  h.size = data.size();
  h.name_length = static_cast<std::uint32_t>(blob.size());
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return io_error("creating", temp, errno);
  const bool written = write_all(fd.get(), &h, sizeof h) &&
                       write_all(fd.get(), blob.data(), blob.size()) &&
                       write_all(fd.get(), data.data(), data.size()) &&
                       (!options_.sync || ::fdatasync(fd.get()) == 0);
  const int write_errno = errno;
  fd.reset();
  if (!written || ::rename(temp.c_str(), target.c_str()) != 0) {
    const int err = written ? errno : write_errno;
    ::unlink(temp.c_str());
    return io_error("writing blob", target, err);
  }
  files->by_name.insert_or_assign(std::string(blob), file);
  if (numbered) ++files->next_number;
  return sync_dir(dir);
}

StoreResult<void> DirectoryBacking::read(std::string_view container, std::string_view blob,
                                         std::uint64_t offset, std::span<std::byte> out) {
  auto found = path_of(container, blob);
  if (!found.ok()) return Err(std::move(found.error()));
  const fs::path& path = *found;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return io_error("opening", path, errno);
  const std::uint64_t start = sizeof(BlobFileHeader) + blob.size() + offset;
  if (!pread_all(fd.get(), out.data(), out.size(), start)) return io_error("reading", path, errno);
  return {};
}

StoreResult<void> DirectoryBacking::remove(std::string_view container, std::string_view blob) {
  auto found = path_of(container, blob);
  if (!found.ok()) return Err(std::move(found.error()));
  if (::unlink(found->c_str()) != 0) return io_error("removing", *found, errno);
  Files& files = *files_of(container);  // path_of found the blob there
  files.by_name.erase(files.by_name.find(blob));
  return sync_dir(container_dir(container));
}

}  // namespace

StoreResult<std::unique_ptr<Store>> open_directory_store(const fs::path& root, Limits limits,
                                                         DirectoryOptions options) {
  return detail::IndexedStore::open(std::make_unique<DirectoryBacking>(root, options), limits);
}

}  // namespace vscsim::blobstore
