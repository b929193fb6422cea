// VMBus channel-management messages (CHANNELMSG_*), as in
// include/linux/hyperv.h. On Hyper-V they travel in SynIC message slots of at
// most 240 payload bytes; here they travel through the transport's mailbox,
// byte for byte the same.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vscsim/wire/endian.h"
#include "vscsim/wire/guid.h"

namespace vscsim::wire {

inline constexpr std::size_t kMaxMessagePayload = 240;  // HV_MESSAGE_PAYLOAD_BYTE_COUNT
inline constexpr std::size_t kMaxUserDefinedBytes = 120;  // MAX_USER_DEFINED_BYTES
inline constexpr std::size_t kMaxPipeUserDefinedBytes = 116;
inline constexpr std::uint32_t kInvalidRelid = UINT32_MAX;

// VMBus protocol versions: major << 16 | minor.
inline constexpr std::uint32_t make_version(std::uint32_t major, std::uint32_t minor) {
  return major << 16 | minor;
}
inline constexpr std::uint32_t kVersionWs2008 = make_version(0, 13);
inline constexpr std::uint32_t kVersionWin7 = make_version(1, 1);
inline constexpr std::uint32_t kVersionWin8 = make_version(2, 4);
inline constexpr std::uint32_t kVersionWin8_1 = make_version(3, 0);
inline constexpr std::uint32_t kVersionWin10 = make_version(4, 0);
inline constexpr std::uint32_t kVersionWin10V4_1 = make_version(4, 1);
inline constexpr std::uint32_t kVersionWin10V5 = make_version(5, 0);
inline constexpr std::uint32_t kVersionWin10V5_1 = make_version(5, 1);
inline constexpr std::uint32_t kVersionWin10V5_2 = make_version(5, 2);
inline constexpr std::uint32_t kVersionWin10V5_3 = make_version(5, 3);

enum class ChannelMessageType : std::uint32_t {
  kInvalid = 0,
  kOfferChannel = 1,
  kRescindChannelOffer = 2,
  kRequestOffers = 3,
  kAllOffersDelivered = 4,
  kOpenChannel = 5,
  kOpenChannelResult = 6,
  kCloseChannel = 7,
  kGpadlHeader = 8,
  kGpadlBody = 9,
  kGpadlCreated = 10,
  kGpadlTeardown = 11,
  kGpadlTorndown = 12,
  kRelidReleased = 13,
  kInitiateContact = 14,
  kVersionResponse = 15,
  kUnload = 16,
  kUnloadResponse = 17,
  kTlConnectRequest = 21,
  kModifyChannel = 22,
  kTlConnectResult = 23,
  kModifyChannelResponse = 24,
};

// Channel offer flags (chn_flags).
inline constexpr std::uint16_t kChannelEnumerateDeviceInterface = 0x1;
inline constexpr std::uint16_t kChannelServerSupportsTransferPages = 0x2;
inline constexpr std::uint16_t kChannelServerSupportsGpadls = 0x4;
inline constexpr std::uint16_t kChannelNamedPipeMode = 0x10;
inline constexpr std::uint16_t kChannelLoopbackOffer = 0x100;
inline constexpr std::uint16_t kChannelParentOffer = 0x200;
inline constexpr std::uint16_t kChannelRequestMonitoredNotification = 0x400;
inline constexpr std::uint16_t kChannelTlnpiProviderOffer = 0x2000;

// GPADL types of vmbus_channel_gpadl_header's sender.
inline constexpr std::uint32_t kGpadlTypeRingBuffer = 1;

#pragma pack(push, 1)

struct ChannelMessageHeader {
  ChannelMessageType msgtype;
  std::uint32_t padding;
};

// struct vmbus_channel_offer. The kernel's union {std, pipe} is kept as raw
// bytes: for pipe offers the first 4 bytes of user_defined are pipe_mode.
struct ChannelOffer {
  Guid if_type;
  Guid if_instance;
  std::uint64_t reserved1;
  std::uint64_t reserved2;
  std::uint16_t chn_flags;
  std::uint16_t mmio_megabytes;
  std::uint8_t user_defined[kMaxUserDefinedBytes];
  std::uint16_t sub_channel_index;  // 0: primary channel
  std::uint16_t reserved3;
};

// The kernel's one-bit fields (monitor_allocated:1 in a u8,
// is_dedicated_interrupt:1 in a u16) are plain integers here with bit 0
// masks: bit-field layout inside a packed struct is compiler-defined.
inline constexpr std::uint8_t kMonitorAllocated = 1u << 0;
inline constexpr std::uint16_t kIsDedicatedInterrupt = 1u << 0;

struct OfferChannelMsg {  // CHANNELMSG_OFFERCHANNEL
  ChannelMessageHeader header;
  ChannelOffer offer;
  std::uint32_t child_relid;
  std::uint8_t monitorid;
  std::uint8_t monitor_flags;      // kMonitorAllocated
  std::uint16_t interrupt_flags;   // kIsDedicatedInterrupt
  std::uint32_t connection_id;
};

struct RescindOfferMsg {  // CHANNELMSG_RESCIND_CHANNELOFFER
  ChannelMessageHeader header;
  std::uint32_t child_relid;
};

struct RequestOffersMsg {  // CHANNELMSG_REQUESTOFFERS: no parameters
  ChannelMessageHeader header;
};

struct AllOffersDeliveredMsg {  // CHANNELMSG_ALLOFFERS_DELIVERED: no parameters
  ChannelMessageHeader header;
};

struct OpenChannelMsg {  // CHANNELMSG_OPENCHANNEL
  ChannelMessageHeader header;
  std::uint32_t child_relid;
  std::uint32_t openid;
  std::uint32_t ringbuffer_gpadlhandle;
  std::uint32_t target_vp;
  // The guest-to-host ring starts at page 0 of the GPADL; the host-to-guest
  // ring starts at this page.
  std::uint32_t downstream_ringbuffer_pageoffset;
  std::uint8_t userdata[kMaxUserDefinedBytes];
};

struct OpenResultMsg {  // CHANNELMSG_OPENCHANNEL_RESULT
  ChannelMessageHeader header;
  std::uint32_t child_relid;
  std::uint32_t openid;
  std::uint32_t status;
};

struct CloseChannelMsg {  // CHANNELMSG_CLOSECHANNEL
  ChannelMessageHeader header;
  std::uint32_t child_relid;
};

// CHANNELMSG_GPADL_HEADER; `rangecount` GPA ranges (GpaRange + pfns) follow,
// `range_buflen` bytes in all. PFNs that do not fit come in GPADL_BODY messages.
struct GpadlHeaderMsg {
  ChannelMessageHeader header;
  std::uint32_t child_relid;
  std::uint32_t gpadl;
  std::uint16_t range_buflen;
  std::uint16_t rangecount;
};

struct GpadlBodyMsg {  // CHANNELMSG_GPADL_BODY; u64 pfns follow
  ChannelMessageHeader header;
  std::uint32_t msgnumber;
  std::uint32_t gpadl;
};

struct GpadlCreatedMsg {  // CHANNELMSG_GPADL_CREATED
  ChannelMessageHeader header;
  std::uint32_t child_relid;
  std::uint32_t gpadl;
  std::uint32_t creation_status;
};

struct GpadlTeardownMsg {  // CHANNELMSG_GPADL_TEARDOWN
  ChannelMessageHeader header;
  std::uint32_t child_relid;
  std::uint32_t gpadl;
};

struct GpadlTorndownMsg {  // CHANNELMSG_GPADL_TORNDOWN
  ChannelMessageHeader header;
  std::uint32_t gpadl;
};

struct RelidReleasedMsg {  // CHANNELMSG_RELID_RELEASED
  ChannelMessageHeader header;
  std::uint32_t child_relid;
};

struct InitiateContactMsg {  // CHANNELMSG_INITIATE_CONTACT
  ChannelMessageHeader header;
  std::uint32_t vmbus_version_requested;
  std::uint32_t target_vcpu;
  // Union in the kernel: u64 interrupt_page, or (from protocol 5.0) the
  // message SINT in the lowest byte. See msg_sint().
  std::uint64_t interrupt_page;
  std::uint64_t monitor_page1;
  std::uint64_t monitor_page2;

  [[nodiscard]] std::uint8_t msg_sint() const {
    return static_cast<std::uint8_t>(interrupt_page & 0xff);
  }
};

struct VersionResponseMsg {  // CHANNELMSG_VERSION_RESPONSE
  ChannelMessageHeader header;
  std::uint8_t version_supported;
  std::uint8_t connection_state;
  std::uint16_t padding;
  std::uint32_t msg_conn_id;
};

struct UnloadMsg {  // CHANNELMSG_UNLOAD: no parameters
  ChannelMessageHeader header;
};

struct UnloadResponseMsg {  // CHANNELMSG_UNLOAD_RESPONSE: no parameters
  ChannelMessageHeader header;
};

#pragma pack(pop)

// Sizes and offsets as the kernel's structs have them (x86-64, 6.1 headers).
static_assert(sizeof(ChannelMessageHeader) == 8);
static_assert(sizeof(ChannelOffer) == 176);
static_assert(offsetof(ChannelOffer, if_instance) == 16);
static_assert(offsetof(ChannelOffer, chn_flags) == 48);
static_assert(offsetof(ChannelOffer, mmio_megabytes) == 50);
static_assert(offsetof(ChannelOffer, user_defined) == 52);
static_assert(offsetof(ChannelOffer, sub_channel_index) == 172);
static_assert(sizeof(OfferChannelMsg) == 196);
static_assert(offsetof(OfferChannelMsg, offer) == 8);
static_assert(offsetof(OfferChannelMsg, child_relid) == 184);
static_assert(offsetof(OfferChannelMsg, monitorid) == 188);
static_assert(offsetof(OfferChannelMsg, monitor_flags) == 189);
static_assert(offsetof(OfferChannelMsg, interrupt_flags) == 190);
static_assert(offsetof(OfferChannelMsg, connection_id) == 192);
static_assert(sizeof(RescindOfferMsg) == 12);
static_assert(sizeof(RequestOffersMsg) == 8);
static_assert(sizeof(AllOffersDeliveredMsg) == 8);
static_assert(sizeof(OpenChannelMsg) == 148);
static_assert(offsetof(OpenChannelMsg, downstream_ringbuffer_pageoffset) == 24);
static_assert(offsetof(OpenChannelMsg, userdata) == 28);
static_assert(sizeof(OpenResultMsg) == 20);
static_assert(sizeof(CloseChannelMsg) == 12);
static_assert(sizeof(GpadlHeaderMsg) == 20);
static_assert(offsetof(GpadlHeaderMsg, range_buflen) == 16);
static_assert(offsetof(GpadlHeaderMsg, rangecount) == 18);
static_assert(sizeof(GpadlBodyMsg) == 16);
static_assert(sizeof(GpadlCreatedMsg) == 20);
static_assert(sizeof(GpadlTeardownMsg) == 16);
static_assert(sizeof(GpadlTorndownMsg) == 12);
static_assert(sizeof(RelidReleasedMsg) == 12);
static_assert(sizeof(InitiateContactMsg) == 40);
static_assert(offsetof(InitiateContactMsg, interrupt_page) == 16);
static_assert(offsetof(InitiateContactMsg, monitor_page2) == 32);
static_assert(sizeof(VersionResponseMsg) == 16);
static_assert(offsetof(VersionResponseMsg, msg_conn_id) == 12);
static_assert(sizeof(UnloadMsg) == 8);
static_assert(sizeof(UnloadResponseMsg) == 8);
static_assert(sizeof(OfferChannelMsg) <= kMaxMessagePayload);
static_assert(sizeof(OpenChannelMsg) <= kMaxMessagePayload);

}  // namespace vscsim::wire
