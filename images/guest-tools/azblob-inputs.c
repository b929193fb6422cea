// SPDX-License-Identifier: GPL-2.0
/*
 * azblob-inputs: the table of bad ioctl inputs for the az_blob driver
 * (DESIGN.md section 6, items 10, 15 and 16), run in the guest.
 *
 *   azblob-inputs [DEVICE]      (default /dev/azure_blob)
 *
 * Every case but one is rejected by the driver before anything reaches the
 * host. The exception, "cap-exact", sends a request spanning exactly the page
 * cap (data buffer page-aligned) whose request bytes are not a valid payload:
 * the driver must pass it and the host answer wire status 1 (invalid
 * request); one byte more must be EINVAL. Prints one line per case,
 *   azblob-inputs: <case> errno=<got> want=<expected> ok|FAIL
 * then "azblob-inputs: pinned_pages=<n>" (debugfs, 0 unless pages leaked) and
 * exits 0 only if every case got its errno and nothing stayed pinned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/az_blob.h>

#define PAGE 4096UL

static int failures;

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOTTY: return "ENOTTY";
	case EPERM: return "EPERM";
	case ENODEV: return "ENODEV";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EBUSY: return "EBUSY";
	case EIO: return "EIO";
	default: return strerror(e);
	}
}

static void report(const char *name, int got, int want)
{
	int ok = got == want;

	printf("azblob-inputs: %s errno=%s want=%s %s\n", name, errname(got),
	       errname(want), ok ? "ok" : "FAIL");
	fflush(stdout);
	if (!ok)
		failures++;
}

/* A request that would be valid: the cases below each break one thing. */
static struct az_blob_request_sync valid(void *req, void *resp, void *data)
{
	struct az_blob_request_sync r;

	memset(&r, 0, sizeof(r));
	r.timeout = 1000;
	r.request_len = 16;
	r.response_len = 64;
	r.request_buffer = (uintptr_t)req;
	r.response_buffer = (uintptr_t)resp;
	r.data_buffer = (uintptr_t)data;
	r.data_len = PAGE;
	r.data_valid = PAGE;
	return r;
}

static int call(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) == 0 ? 0 : errno;
}

static void expect(int fd, const char *name, struct az_blob_request_sync r,
		   int want)
{
	report(name, call(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r), want);
}

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("azblob-inputs: mmap");
		exit(2);
	}
	return p;
}

/* The fd, inherited by a child that drops to uid/gid 1000, is refused. */
static void other_credentials(int fd, void *req, void *resp, void *data)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct az_blob_request_sync r = valid(req, resp, data);

		if (setgid(1000) || setuid(1000))
			_exit(100);
		_exit(call(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		report("fd-other-credentials", -1, EPERM);
		return;
	}
	report("fd-other-credentials", WEXITSTATUS(status), EPERM);
}

/* The largest request the cap allows reaches the host; one byte more does not. */
static void page_cap(int fd, void *req, void *resp)
{
	size_t len = (AZ_BLOB_MAX_PAGES - 2) * PAGE;
	void *data = map(len, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r = valid(req, resp, data);
	int got;

	r.data_len = len;
	r.data_valid = len;
	r.timeout = 20000;
	got = call(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r);
	report("cap-exact", got, 0);
	printf("azblob-inputs: cap-exact pages=%u host-status=%u\n",
	       AZ_BLOB_MAX_PAGES, r.response.status);
	if (got == 0 && r.response.status != 1)
		failures++;
	r.data_len = len + 1;
	r.data_valid = len + 1;
	expect(fd, "cap-plus-one-byte", r, EINVAL);
	munmap(data, len);
}

static long pinned_pages(void)
{
	FILE *f = fopen("/sys/kernel/debug/az_blob/pinned_pages", "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/azure_blob";
	unsigned char *req = map(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *resp = map(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *data = map(PAGE, PROT_READ | PROT_WRITE);
	unsigned char *ro = map(PAGE, PROT_READ);
	/* Room for a buffer over the page cap (never touched: PROT_NONE). */
	size_t big = (AZ_BLOB_MAX_PAGES + 1) * PAGE;
	unsigned char *huge = map(big, PROT_NONE);
	unsigned char *holey = map(3 * PAGE, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;
	long pinned;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0) {
		printf("azblob-inputs: open %s: %s\n", path, strerror(errno));
		return 2;
	}
	memset(req, 1, PAGE);
	memset(holey, 2, 3 * PAGE);
	/* The middle page goes: a buffer over all three is partly unmapped. */
	munmap(holey + PAGE, PAGE);

	r = valid(req, resp, data); r.request_len = 0;
	expect(fd, "request-len-0", r, EINVAL);
	r = valid(req, resp, data); r.response_len = 0;
	expect(fd, "response-len-0", r, EINVAL);
	r = valid(req, resp, data); r.data_valid = r.data_len + 1;
	expect(fd, "data-valid-over-len", r, EINVAL);
	r = valid(req, resp, data); r.data_len = 0;
	expect(fd, "data-valid-without-data", r, EINVAL);
	r = valid(req, resp, data); r.reserved = 1;
	expect(fd, "reserved-set", r, EINVAL);
	r = valid(req, resp, data); r.request_buffer = 0;
	expect(fd, "request-buffer-null", r, EINVAL);
	r = valid(req, resp, data); r.data_buffer = 0;
	expect(fd, "data-buffer-null", r, EINVAL);
	r = valid(req, resp, data); r.timeout = AZ_BLOB_MAX_TIMEOUT_MS + 1;
	expect(fd, "timeout-over-max", r, EINVAL);
	r = valid(req, resp, data); r.timeout = 0xffffffffu;
	expect(fd, "timeout-u32-max", r, EINVAL);
	r = valid(req, resp, huge); r.data_len = AZ_BLOB_MAX_PAGES * PAGE;
	r.data_valid = 0;
	expect(fd, "pages-over-cap", r, EINVAL);
	r = valid(req, resp, data); r.request_buffer = (uintptr_t)huge;
	r.request_len = 0xffffffffu;
	expect(fd, "request-len-u32-max", r, EINVAL);
	r = valid(req, resp, data); r.response_buffer = 0xffff888000000000ULL;
	expect(fd, "kernel-address", r, EFAULT);
	r = valid(req, resp, data); r.data_buffer = 0xfffffffffffff000ULL;
	r.data_len = 2 * PAGE; r.data_valid = 0;
	expect(fd, "address-wraps", r, EFAULT);
	r = valid(req, resp, holey); r.data_len = 3 * PAGE; r.data_valid = 0;
	expect(fd, "data-partly-unmapped", r, EFAULT);
	r = valid(req, resp, huge); r.data_len = 2 * PAGE;
	expect(fd, "data-unmapped", r, EFAULT);
	r = valid(req, ro, data);
	expect(fd, "response-read-only", r, EFAULT);
	r = valid(req, resp, ro); r.data_valid = 0;
	expect(fd, "data-read-only-with-room-to-answer", r, EFAULT);
	report("ioctl-arg-null", call(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, NULL), EFAULT);
	report("ioctl-unknown-number",
	       call(fd, _IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf1, struct az_blob_request_sync), &r),
	       ENOTTY);
	report("ioctl-wrong-size",
	       call(fd, _IOC(_IOC_READ | _IOC_WRITE, AZ_BLOB_MAGIC_NUMBER, 0xf0, 64), &r),
	       ENOTTY);
	report("ioctl-other-magic", call(fd, _IO('T', 1), &r), ENOTTY);
	other_credentials(fd, req, resp, data);
	page_cap(fd, req, resp);

	close(fd);
	pinned = pinned_pages();
	printf("azblob-inputs: pinned_pages=%ld\n", pinned);
	if (pinned != 0)
		failures++;
	printf("azblob-inputs: %s (%d failed)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
