// The directory store: every blob a file under one root directory, so the
// store survives a restart of the simulator (vsp-sim --blob-dir).
//
// Layout under the root:
//   VSCSIM-BLOBSTORE      marker holding the format line; a non-empty root
//                         without it is refused (the store never writes into
//                         a directory it did not make). Locked (flock) while
//                         a store has the root open: one store per root.
//   c-<container>/        one directory per container (the names are [a-z0-9-])
//     b-<escaped name>    one file per blob whose escaped name fits in 200 bytes:
//                         bytes other than [A-Za-z0-9._-] become %XX, so no name
//                         can form "/", ".." or any path of its own
//     n-<number>          a blob with a longer name (the name is in the file)
//     .tmp-<number>       a put in progress; removed when the store opens
// A blob file is a 32-byte header (magic "VSCBLOB1", generation, size, name
// length, all little-endian), the name, then the bytes. A put writes a temp
// file, syncs it, renames it over the old one and syncs the directory, so a
// crash leaves the old blob or the new one, never a mix, and the generation
// travels with the bytes. Other files under the root are left alone.
#pragma once

#include <filesystem>
#include <memory>

#include "vscsim/blobstore/store.h"

namespace vscsim::blobstore {

struct DirectoryOptions {
  // fdatasync/fsync on every change. Off only where speed matters more than
  // surviving a power cut (the atomic rename still protects a crash of the
  // simulator itself).
  bool sync = true;
};

// Opens the store at `root`, creating the directory (and its parents) if
// needed. Fails with kInternal if the root is unusable, holds something that
// is not a store, is locked by another store, or holds damaged blob files.
StoreResult<std::unique_ptr<Store>> open_directory_store(const std::filesystem::path& root,
                                                         Limits limits = {},
                                                         DirectoryOptions options = {});

}  // namespace vscsim::blobstore
