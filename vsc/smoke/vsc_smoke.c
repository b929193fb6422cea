// SPDX-License-Identifier: GPL-2.0
/*
 * vsc_smoke: the smallest module the project builds. The first VM test loads
 * it and looks for its line on the console, proving that the module build,
 * the initramfs and the guest boot fit together. With warn=1 it raises a
 * WARN, the negative control for the console checker.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/utsname.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "Raise a WARN at load time (console checker's negative control)");

static int __init vsc_smoke_init(void)
{
	pr_info("vsc_smoke: loaded on %s\n", init_utsname()->release);
	WARN(warn, "vsc_smoke: deliberate warning requested by warn=1\n");
	return 0;
}

static void __exit vsc_smoke_exit(void)
{
	pr_info("vsc_smoke: unloaded\n");
}

module_init(vsc_smoke_init);
module_exit(vsc_smoke_exit);
MODULE_DESCRIPTION("vscsim smoke-test module");
MODULE_LICENSE("GPL");
