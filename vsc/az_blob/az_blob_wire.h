/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Azure Blob VSC's VMBus wire format (docs/azure-blob.md section 2):
 * what the driver sends the host and what the host answers. Little-endian
 * and packed; the host is not trusted to fill any field sensibly.
 */
#ifndef AZ_BLOB_WIRE_H
#define AZ_BLOB_WIRE_H

#include <linux/build_bug.h>
#include <linux/types.h>

#define AZ_BLOB_WIRE_VERSION		0
#define AZ_BLOB_OP_USER_REQUEST		0x100

/* In-band part of the GPA-direct request packet, after the page range. */
struct az_blob_vsp_request {
	__le32 version;
	__le32 timeout_ms;
	__le32 data_buffer_offset;
	__le32 data_buffer_length;
	__le32 data_buffer_valid;
	__le32 operation_type;
	__le32 request_buffer_offset;
	__le32 request_buffer_length;
	__le32 response_buffer_offset;
	__le32 response_buffer_length;
	u8 transaction_id[16];
} __packed;

/* Payload of the host's completion packet. */
struct az_blob_vsp_response {
	__le32 length;
	__le32 error;
	__le32 response_len;
} __packed;

static_assert(sizeof(struct az_blob_vsp_request) == 56);
static_assert(sizeof(struct az_blob_vsp_response) == 12);

#endif /* AZ_BLOB_WIRE_H */
