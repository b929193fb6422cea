// Byte order of VMBus wire structures.
//
// Every VMBus structure is little-endian (Hyper-V exists only on x86-64 and
// arm64, both little-endian, and include/linux/hyperv.h uses plain u16/u32/u64
// fields). The simulator runs on an x86-64 host, so the wire structs here use
// native integers and this assertion refuses to build anywhere else. That is
// a deliberate choice over LE accessor wrappers: the structs stay
// trivially copyable and readable as in the kernel header, and a big-endian
// port would fail at compile time rather than at run time.
#pragma once

#include <bit>

static_assert(std::endian::native == std::endian::little,
              "VMBus wire structs are little-endian; the simulator uses them as native integers");
