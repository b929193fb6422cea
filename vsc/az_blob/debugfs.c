// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs, for people and for the harness's leak checks:
 *   az_blob/pinned_pages        pages pinned by the module, all devices
 *   az_blob/<device>/stats      counters (struct az_blob_stats) and state
 *   az_blob/<device>/pending    open files with their requests in flight,
 *                               then requests whose caller left
 * <device> is the VMBus device's name (its instance GUID), unique per device.
 */
#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/seq_file.h>

#include "az_blob_priv.h"

static struct dentry *az_blob_debugfs_root;

static int az_blob_pinned_show(struct seq_file *s, void *unused)
{
	seq_printf(s, "%ld\n", az_blob_pinned_pages());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(az_blob_pinned);

static int az_blob_stats_show(struct seq_file *s, void *unused)
{
	struct az_blob_dev *dev = s->private;
	struct az_blob_stats st;
	unsigned int outstanding, active;
	bool removing;

	spin_lock_bh(&dev->lock);
	st = dev->stats;
	outstanding = dev->outstanding;
	active = dev->active;
	removing = dev->removing;
	spin_unlock_bh(&dev->lock);

	seq_printf(s, "name %s\nremoving %d\noutstanding %u\nactive %u\n",
		   dev->name, removing, outstanding, active);
	seq_printf(s, "requests %llu\nanswered %llu\ntimeouts %llu\n",
		   st.requests, st.answered, st.timeouts);
	seq_printf(s, "late_completions %llu\nfailed_on_removal %llu\n",
		   st.late_completions, st.failed_on_removal);
	seq_printf(s, "bad_ids %llu\nbad_packets %llu\nbusy %llu\n",
		   st.bad_ids, st.bad_packets, st.busy);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(az_blob_stats);

static void az_blob_show_req(struct seq_file *s, const struct az_blob_req *req)
{
	const struct az_blob_request_sync *u = &req->user;

	seq_printf(s, "  age_ms %u request %u response %u data %u/%u pages %u guid %pUb\n",
		   jiffies_to_msecs(jiffies - req->sent_jiffies), u->request_len,
		   u->response_len, u->data_valid, u->data_len, req->nr_pages,
		   u->guid);
}

static int az_blob_pending_show(struct seq_file *s, void *unused)
{
	struct az_blob_dev *dev = s->private;
	struct az_blob_file *file;
	struct az_blob_req *req;

	spin_lock_bh(&dev->lock);
	list_for_each_entry(file, &dev->files, node) {
		seq_printf(s, "file pid %d comm %s\n", file->opener, file->comm);
		list_for_each_entry(req, &file->pending, file_node)
			az_blob_show_req(s, req);
	}
	seq_puts(s, "abandoned\n");
	list_for_each_entry(req, &dev->requests, dev_node)
		if (req->state == AZ_BLOB_REQ_ABANDONED)
			az_blob_show_req(s, req);
	spin_unlock_bh(&dev->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(az_blob_pending);

void az_blob_debugfs_init(void)
{
	az_blob_debugfs_root = debugfs_create_dir("az_blob", NULL);
	debugfs_create_file("pinned_pages", 0400, az_blob_debugfs_root, NULL,
			    &az_blob_pinned_fops);
}

void az_blob_debugfs_exit(void)
{
	debugfs_remove(az_blob_debugfs_root);
}

void az_blob_debugfs_add(struct az_blob_dev *dev)
{
	dev->debugfs = debugfs_create_dir(dev_name(&dev->hdev->device),
					  az_blob_debugfs_root);
	debugfs_create_file("stats", 0400, dev->debugfs, dev,
			    &az_blob_stats_fops);
	debugfs_create_file("pending", 0400, dev->debugfs, dev,
			    &az_blob_pending_fops);
}

/* After this no reader can reach dev through debugfs. */
void az_blob_debugfs_remove(struct az_blob_dev *dev)
{
	debugfs_remove(dev->debugfs);
	dev->debugfs = NULL;
}
