// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note
/*
 * Compiled, never run, by the az_blob_uapi_* tests (vsc/CMakeLists.txt): the
 * uapi header must compile first and alone in user space, as C99 and as C++,
 * and keep the layout and ioctl number the public driver's users rely on.
 */
#include <linux/az_blob.h>

#include <stddef.h>

#ifdef __cplusplus
#define AZ_BLOB_CHECK(cond, name) static_assert(cond, #name)
#else
/* C99 has no static assert: a negative array size fails the compile. */
#define AZ_BLOB_CHECK(cond, name) extern char az_blob_check_##name[(cond) ? 1 : -1]
#endif

#define AZ_BLOB_OFFSET(field, at) \
	AZ_BLOB_CHECK(offsetof(struct az_blob_request_sync, field) == (at), offset_of_##field)

AZ_BLOB_OFFSET(guid, 0);
AZ_BLOB_OFFSET(timeout, 16);
AZ_BLOB_OFFSET(request_len, 20);
AZ_BLOB_OFFSET(response_len, 24);
AZ_BLOB_OFFSET(data_len, 28);
AZ_BLOB_OFFSET(data_valid, 32);
AZ_BLOB_OFFSET(reserved, 36);
AZ_BLOB_OFFSET(request_buffer, 40);
AZ_BLOB_OFFSET(response_buffer, 48);
AZ_BLOB_OFFSET(data_buffer, 56);
AZ_BLOB_OFFSET(response, 64);
AZ_BLOB_CHECK(sizeof(struct az_blob_request_sync) == 72, size_of_request_sync);
AZ_BLOB_CHECK(offsetof(struct az_blob_request_sync_response, status) == 0,
	      response_status_offset);
AZ_BLOB_CHECK(offsetof(struct az_blob_request_sync_response, response_len) == 4,
	      response_len_offset);
AZ_BLOB_CHECK(sizeof(struct az_blob_request_sync_response) == 8, size_of_response);

/*
 * _IOWR('R', 0xf0, 72 bytes): direction read|write (3 << 30), size 72 << 16,
 * type 'R' << 8, number 0xf0.
 */
AZ_BLOB_CHECK(IOCTL_AZ_BLOB_DRIVER_USER_REQUEST == 0xc04852f0u, ioctl_number);
AZ_BLOB_CHECK(AZ_BLOB_MAX_PAGES == 8192, max_pages);
AZ_BLOB_CHECK(AZ_BLOB_MAX_TIMEOUT_MS == 600000u, max_timeout);
