// The in-memory store: blob bytes in host memory, gone when the simulator
// stops. The daemon's default (--blob-dir selects the directory store).
#pragma once

#include <memory>

#include "vscsim/blobstore/store.h"

namespace vscsim::blobstore {

[[nodiscard]] std::unique_ptr<Store> make_memory_store(Limits limits = {});

}  // namespace vscsim::blobstore
