// SPDX-License-Identifier: GPL-2.0
/*
 * insmod-force: loads one kernel module with its modversion CRCs ignored.
 *
 * Debian's prebuilt VSCs (hyperv-keyboard, ...) record hv_vmbus's symbol CRCs;
 * vscsim_vmbus exports the same symbols with other CRCs, so a plain insmod
 * refuses them, and busybox insmod has no -f. This tool passes
 * MODULE_INIT_IGNORE_MODVERSIONS to finit_module(2), which is what
 * "modprobe --force-modversion" does; the kernel then taints itself
 * (TAINT_FORCED_MODULE). It is a stated gap (docs/guest.md), not a fix.
 *
 * usage: insmod-force FILE.ko [param=value]...
 * Prints one line on success or failure; exits 0 when the module loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/module.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char params[1024] = "";
	size_t used = 0;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: insmod-force FILE.ko [param=value]...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (used + n + 2 > sizeof(params)) {
			fprintf(stderr, "insmod-force: %s: parameters too long\n", argv[1]);
			return 2;
		}
		if (used > 0)
			params[used++] = ' ';
		memcpy(params + used, argv[i], n + 1);
		used += n;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "insmod-force: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (syscall(SYS_finit_module, fd, params, MODULE_INIT_IGNORE_MODVERSIONS) != 0) {
		fprintf(stderr, "insmod-force: %s: %s\n", argv[1], strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("insmod-force: %s loaded, modversions ignored\n", argv[1]);
	return 0;
}
