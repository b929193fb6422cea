// VMBus ring packets: the descriptor every packet starts with, packet types,
// and the GPA-direct layout (include/linux/hyperv.h: vmpacket_descriptor,
// gpa_range, vmdata_gpa_direct, vmbus_packet_mpb_array).
//
// A packet in a ring is: descriptor (16 bytes), more header (for GPA-direct
// the range list), payload from offset8 * 8 to len8 * 8, padding to 8 bytes,
// then one trailing u64 (the packet's start offset in the ring, in the upper
// 32 bits) that is not counted in len8.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vscsim/wire/endian.h"

namespace vscsim::wire {

enum class PacketType : std::uint16_t {
  kInvalid = 0x0,
  kSynch = 0x1,
  kAddXferPageset = 0x2,
  kRmXferPageset = 0x3,
  kEstablishGpadl = 0x4,
  kTeardownGpadl = 0x5,
  kDataInband = 0x6,            // VM_PKT_DATA_INBAND
  kDataUsingXferPages = 0x7,    // VM_PKT_DATA_USING_XFER_PAGES
  kDataUsingGpadl = 0x8,
  kDataUsingGpaDirect = 0x9,    // VM_PKT_DATA_USING_GPA_DIRECT
  kCancelRequest = 0xa,
  kCompletion = 0xb,            // VM_PKT_COMP
  kDataUsingAdditionalPkt = 0xc,
  kAdditionalData = 0xd,
};

inline constexpr std::uint16_t kFlagCompletionRequested = 1;  // VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED

// Request ids (transaction ids) from the guest's requestor table start at 1;
// 0 means "no response expected". These are the kernel's sentinels.
inline constexpr std::uint64_t kRqstError = UINT64_MAX - 1;        // VMBUS_RQST_ERROR
inline constexpr std::uint64_t kRqstAddrAny = UINT64_MAX;          // VMBUS_RQST_ADDR_ANY
inline constexpr std::uint64_t kRqstIdNoResponse = UINT64_MAX - 2; // VMBUS_RQST_ID_NO_RESPONSE

inline constexpr std::uint32_t kPacketTrailerBytes = 8;  // VMBUS_PKT_TRAILER

#pragma pack(push, 1)

// struct vmpacket_descriptor
struct VmpacketDescriptor {
  std::uint16_t type;
  std::uint16_t offset8;  // payload offset from the packet start, in 8-byte units
  std::uint16_t len8;     // packet length (header + payload + padding), in 8-byte units
  std::uint16_t flags;
  std::uint64_t trans_id;
};

// struct gpa_range / struct hv_mpb_array, without the flexible pfn_array:
// `byte_count` bytes starting `byte_offset` into the first page, the page
// numbers follow (as many as the range spans).
struct GpaRange {
  std::uint32_t byte_count;
  std::uint32_t byte_offset;
};

// struct vmdata_gpa_direct / vmbus_packet_mpb_array up to the first range.
struct GpaDirectHeader {
  VmpacketDescriptor d;
  std::uint32_t reserved;
  std::uint32_t range_count;
};

// struct vmbus_packet_mpb_array with its one range header (pfns follow).
struct PacketMpbArray {
  VmpacketDescriptor d;
  std::uint32_t reserved;
  std::uint32_t range_count;
  GpaRange range;
};

// struct vmtransfer_page_range / vmtransfer_page_packet_header (one range).
struct TransferPageRange {
  std::uint32_t byte_count;
  std::uint32_t byte_offset;
};
struct TransferPagePacketHeader {
  VmpacketDescriptor d;
  std::uint16_t xfer_pageset_id;
  std::uint8_t sender_owns_set;
  std::uint8_t reserved;
  std::uint32_t range_count;
  TransferPageRange ranges[1];
};

#pragma pack(pop)

static_assert(sizeof(VmpacketDescriptor) == 16);
static_assert(offsetof(VmpacketDescriptor, type) == 0);
static_assert(offsetof(VmpacketDescriptor, offset8) == 2);
static_assert(offsetof(VmpacketDescriptor, len8) == 4);
static_assert(offsetof(VmpacketDescriptor, flags) == 6);
static_assert(offsetof(VmpacketDescriptor, trans_id) == 8);
static_assert(sizeof(GpaRange) == 8);
static_assert(sizeof(GpaDirectHeader) == 24);
static_assert(offsetof(GpaDirectHeader, range_count) == 20);
static_assert(sizeof(PacketMpbArray) == 32);
static_assert(offsetof(PacketMpbArray, range) == 24);
static_assert(sizeof(TransferPagePacketHeader) == 32);

// Pages spanned by `byte_count` bytes starting `byte_offset` into the first
// page. 64-bit arithmetic: no overflow for any u32 inputs.
[[nodiscard]] constexpr std::uint64_t pages_spanned(std::uint32_t byte_offset,
                                                    std::uint32_t byte_count) {
  return (std::uint64_t{byte_offset} + byte_count + 4095) / 4096;
}

}  // namespace vscsim::wire
