// SPDX-License-Identifier: GPL-2.0
/*
 * vsc_smoke: the smallest module the project builds. The first VM test loads
 * it and looks for its line on the console, proving that the module build,
 * the initramfs and the guest boot fit together. With warn=1 it raises a
 * WARN, the negative control for the console checker; with uaf=1 it reads
 * memory it has just freed, which the debug kernel's KASAN must report (on a
 * kernel without KASAN the read goes unnoticed).
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/utsname.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "Raise a WARN at load time (console checker's negative control)");

static bool uaf;
module_param(uaf, bool, 0444);
MODULE_PARM_DESC(uaf, "Read freed memory at load time (KASAN's negative control)");

static noinline u8 vsc_smoke_use_after_free(void)
{
	u8 *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return 0;
	p[8] = 0x5a;
	kfree(p);
	/* Hide the pointer's history so the compiler keeps the bad read. */
	OPTIMIZER_HIDE_VAR(p);
	return READ_ONCE(p[8]);
}

static int __init vsc_smoke_init(void)
{
	pr_info("vsc_smoke: loaded on %s\n", init_utsname()->release);
	WARN(warn, "vsc_smoke: deliberate warning requested by warn=1\n");
	if (uaf)
		pr_info("vsc_smoke: read 0x%02x from freed memory\n", vsc_smoke_use_after_free());
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
