// SPDX-License-Identifier: GPL-2.0
/*
 * Azure Blob fast-path VSC: a misc device per offered channel whose one ioctl
 * passes an opaque request to the host and waits for its answer
 * (docs/azure-blob.md). This file: module parameters, the VMBus driver
 * (probe, remove) and the character device (open, release, ioctl).
 *
 * Removal order, which the catalogue of driver defects is about: deregister
 * the misc device (no new open can start), mark the device removing and fail
 * every waiting request (no caller stays blocked), wait until no caller uses
 * the channel, close the channel (no callback, no host write any more), then
 * release what is left. It never waits for user space to close its files.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "az_blob_priv.h"

unsigned int az_blob_timeout_ms = 30000;
unsigned int az_blob_queue_depth = 1024;
unsigned int az_blob_completion_budget = 64;
struct workqueue_struct *az_blob_wq;

static int az_blob_set_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int ret = kstrtouint(val, 0, &ms);

	if (ret)
		return ret;
	if (!ms || ms > AZ_BLOB_MAX_TIMEOUT_MS)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, ms);
	return 0;
}

static const struct kernel_param_ops az_blob_timeout_ops = {
	.set = az_blob_set_timeout,
	.get = param_get_uint,
};

module_param_cb(timeout_ms, &az_blob_timeout_ops, &az_blob_timeout_ms, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Wait for the host when a request gives timeout 0, in ms (1..600000, default 30000)");
module_param_named(queue_depth, az_blob_queue_depth, uint, 0444);
MODULE_PARM_DESC(queue_depth,
		 "Requests in flight per device, including abandoned ones (1..16384, default 1024)");
module_param_named(completion_budget, az_blob_completion_budget, uint, 0644);
MODULE_PARM_DESC(completion_budget,
		 "Completions handled per channel callback before yielding (default 64)");

static DEFINE_IDA(az_blob_ida);

static void az_blob_dev_release(struct kref *kref)
{
	kfree(container_of(kref, struct az_blob_dev, kref));
}

void az_blob_dev_put(struct az_blob_dev *dev)
{
	kref_put(&dev->kref, az_blob_dev_release);
}

/* ---- character device ---- */

static int az_blob_open(struct inode *inode, struct file *f)
{
	/* misc_open set private_data to our miscdevice. */
	struct az_blob_dev *dev = container_of(f->private_data,
					       struct az_blob_dev, misc);
	struct az_blob_file *file = kzalloc(sizeof(*file), GFP_KERNEL);

	if (!file)
		return -ENOMEM;
	INIT_LIST_HEAD(&file->pending);
	file->opener = task_tgid_vnr(current);
	get_task_comm(file->comm, current);

	vscsim_race_gate_point("az_blob.open");
	spin_lock_bh(&dev->lock);
	if (dev->removing) {
		spin_unlock_bh(&dev->lock);
		kfree(file);
		return -ENODEV;
	}
	kref_get(&dev->kref);
	file->dev = dev;
	list_add_tail(&file->node, &dev->files);
	spin_unlock_bh(&dev->lock);

	f->private_data = file;
	return nonseekable_open(inode, f);
}

/* Last close of a struct file (all dups and forks gone); may follow remove. */
static int az_blob_release(struct inode *inode, struct file *f)
{
	struct az_blob_file *file = f->private_data;
	struct az_blob_dev *dev = file->dev;

	vscsim_race_gate_point("az_blob.release");
	spin_lock_bh(&dev->lock);
	list_del(&file->node);
	spin_unlock_bh(&dev->lock);
	az_blob_dev_put(dev);
	kfree(file);
	return 0;
}

static long az_blob_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	const struct cred *opener = f->f_cred;

	/* The whole number, size included: another size is another ioctl. */
	if (cmd != IOCTL_AZ_BLOB_DRIVER_USER_REQUEST)
		return -ENOTTY;
	/* An fd handed to a process with other credentials is not honoured. */
	if (!uid_eq(opener->euid, current_euid()) ||
	    !gid_eq(opener->egid, current_egid()))
		return -EPERM;
	return az_blob_user_request(f->private_data, (void __user *)arg);
}

static const struct file_operations az_blob_fops = {
	.owner = THIS_MODULE,
	.open = az_blob_open,
	.release = az_blob_release,
	.unlocked_ioctl = az_blob_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

/* ---- VMBus driver ---- */

static bool az_blob_idle(struct az_blob_dev *dev)
{
	bool idle;

	spin_lock_bh(&dev->lock);
	idle = !dev->active;
	spin_unlock_bh(&dev->lock);
	return idle;
}

static int az_blob_probe(struct hv_device *hdev,
			 const struct hv_vmbus_device_id *id)
{
	struct vmbus_channel *ch = hdev->channel;
	struct az_blob_dev *dev;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	kref_init(&dev->kref);
	spin_lock_init(&dev->lock);
	init_waitqueue_head(&dev->drain_wq);
	INIT_LIST_HEAD(&dev->requests);
	INIT_LIST_HEAD(&dev->files);
	dev->hdev = hdev;
	dev->channel = ch;

	ret = ida_alloc(&az_blob_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	dev->index = ret;
	if (dev->index)
		snprintf(dev->name, sizeof(dev->name), "azure_blob%d", dev->index);
	else
		strscpy(dev->name, "azure_blob", sizeof(dev->name));

	/* Transaction ids come from the bus's requestor table (ids from 1). */
	ch->rqstor_size = az_blob_queue_depth;
	ch->next_request_id_callback = vmbus_next_request_id;
	ch->request_addr_callback = vmbus_request_addr;
	hv_set_drvdata(hdev, dev);
	ret = vmbus_open(ch, AZ_BLOB_RING_SIZE, AZ_BLOB_RING_SIZE, NULL, 0,
			 az_blob_on_channel, dev);
	if (ret)
		goto err_ida;

	az_blob_debugfs_add(dev);
	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = dev->name;
	dev->misc.fops = &az_blob_fops;
	dev->misc.parent = &hdev->device;
	ret = misc_register(&dev->misc);
	if (ret)
		goto err_close;
	/* Quiet on success: a working driver says nothing. */
	return 0;

err_close:
	az_blob_debugfs_remove(dev);
	vmbus_close(ch);
err_ida:
	hv_set_drvdata(hdev, NULL);
	ida_free(&az_blob_ida, dev->index);
err_free:
	az_blob_dev_put(dev);
	return ret;
}

static int az_blob_remove(struct hv_device *hdev)
{
	struct az_blob_dev *dev = hv_get_drvdata(hdev);

	vscsim_race_gate_point("az_blob.remove.begin");
	/* First: after this no open is running or can start. */
	misc_deregister(&dev->misc);

	spin_lock_bh(&dev->lock);
	dev->removing = true;
	az_blob_fail_in_flight(dev, -ENODEV);
	spin_unlock_bh(&dev->lock);
	/* The failed callers wake and leave at once; none waits for the host. */
	vscsim_race_gate_point("az_blob.remove.drain");
	wait_event(dev->drain_wq, az_blob_idle(dev));

	vmbus_close(dev->channel);
	az_blob_release_channel_refs(dev);
	az_blob_debugfs_remove(dev);
	ida_free(&az_blob_ida, dev->index);
	hv_set_drvdata(hdev, NULL);
	spin_lock_bh(&dev->lock);
	dev->hdev = NULL;
	dev->channel = NULL;
	spin_unlock_bh(&dev->lock);
	/* Open files may still hold the device; their calls get -ENODEV. */
	az_blob_dev_put(dev);
	return 0;
}

static const struct hv_vmbus_device_id az_blob_id_table[] = {
	/* Azure Blob fast path: 0590b792-db64-45cc-81db-b8d70c577c9e */
	{ .guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb,
			    0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e) },
	{ },
};
MODULE_DEVICE_TABLE(vmbus, az_blob_id_table);

static struct hv_driver az_blob_driver = {
	.name = KBUILD_MODNAME,
	.id_table = az_blob_id_table,
	.probe = az_blob_probe,
	.remove = az_blob_remove,
};

static int __init az_blob_init(void)
{
	int ret;

	if (!az_blob_queue_depth || az_blob_queue_depth > 16384)
		return -EINVAL;
	az_blob_wq = alloc_workqueue("az_blob", 0, 0);
	if (!az_blob_wq)
		return -ENOMEM;
	az_blob_debugfs_init();
	ret = vmbus_driver_register(&az_blob_driver);
	if (ret) {
		az_blob_debugfs_exit();
		destroy_workqueue(az_blob_wq);
	}
	return ret;
}

static void __exit az_blob_exit(void)
{
	vmbus_driver_unregister(&az_blob_driver);
	/* Releases queued by late completions finish before the code goes. */
	destroy_workqueue(az_blob_wq);
	az_blob_debugfs_exit();
}

module_init(az_blob_init);
module_exit(az_blob_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Azure Blob fast-path VSC (vscsim's hardened implementation)");
