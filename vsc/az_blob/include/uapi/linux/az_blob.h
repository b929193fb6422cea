/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The user-space interface of the Azure Blob fast-path VSC (vscsim's own
 * implementation, wire-compatible with the public driver's ioctl).
 *
 * The driver is a pipe: one ioctl hands an opaque request buffer, a response
 * buffer and an optional data buffer to the host and waits for its answer.
 * What the request and response buffers contain is agreed between user space
 * and the host (vscsim: docs/azure-blob.md); the driver does not look.
 */
#ifndef _UAPI_LINUX_AZ_BLOB_H
#define _UAPI_LINUX_AZ_BLOB_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Written back by the driver when the host answered (the ioctl returned 0). */
struct az_blob_request_sync_response {
	__u32 status;		/* the host's status; 0 is success */
	__u32 response_len;	/* bytes the host wrote into response_buffer */
};

/*
 * timeout:      milliseconds to wait for the host, 1..AZ_BLOB_MAX_TIMEOUT_MS;
 *               0 selects the driver's default (module parameter timeout_ms)
 * request_len:  bytes of request_buffer the host reads, 1..
 * response_len: capacity of response_buffer, 1..
 * data_len:     capacity of data_buffer, 0 if there is none
 * data_valid:   bytes of data_buffer that carry data for the host,
 *               0..data_len (the rest is room for the host's answer)
 * The three buffers together may span at most AZ_BLOB_MAX_PAGES pages.
 */
struct az_blob_request_sync {
	__u8 guid[16];		/* the caller's transaction id, passed through */
	__u32 timeout;
	__u32 request_len;
	__u32 response_len;
	__u32 data_len;
	__u32 data_valid;
	__u32 reserved;		/* must be 0 */
	__aligned_u64 request_buffer;
	__aligned_u64 response_buffer;
	__aligned_u64 data_buffer;
	struct az_blob_request_sync_response response;
};

#define AZ_BLOB_MAX_PAGES	8192
#define AZ_BLOB_MAX_TIMEOUT_MS	(10U * 60U * 1000U)

#define AZ_BLOB_MAGIC_NUMBER	'R'
#define IOCTL_AZ_BLOB_DRIVER_USER_REQUEST \
	_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync)

#endif /* _UAPI_LINUX_AZ_BLOB_H */
