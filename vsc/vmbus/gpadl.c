// SPDX-License-Identifier: GPL-2.0
/*
 * GPADLs: a guest buffer described to the host by its page frame numbers.
 * GPADL_HEADER carries the first frames, GPADL_BODY messages the rest (a
 * mailbox slot holds 240 bytes); the host answers GPADL_CREATED. Teardown is
 * GPADL_TEARDOWN answered by GPADL_TORNDOWN. Both waits are bounded.
 */
#include <linux/module.h>
#include <linux/slab.h>

#include "vmbus_priv.h"

#define VSV_GPADL_HDR_PFNS \
	((VSV_MSG_MAX - sizeof(struct vmbus_channel_gpadl_header) - \
	  sizeof(struct gpa_range)) / sizeof(u64))
#define VSV_GPADL_BODY_PFNS \
	((VSV_MSG_MAX - sizeof(struct vmbus_channel_gpadl_body)) / sizeof(u64))
/* range_buflen is a u16. */
#define VSV_GPADL_MAX_PFNS \
	((U16_MAX - sizeof(struct gpa_range)) / sizeof(u64))

/* The first handle hv_vmbus hands out; the host treats handles as opaque. */
static atomic_t vsv_next_gpadl = ATOMIC_INIT(0xE1E10);

/* Keeps a GPADL's header and body messages together in the mailbox. */
static DEFINE_MUTEX(vsv_gpadl_post_lock);

static int vsv_post_gpadl(struct vmbus_channel *ch, u8 *kbuffer, u32 pages, u32 handle,
			  u32 size)
{
	struct vmbus_channel_gpadl_header *hdr;
	struct vmbus_channel_gpadl_body *body;
	u32 done, n, i;
	void *msg;
	int ret;

	msg = kzalloc(VSV_MSG_MAX, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = msg;
	hdr->header.msgtype = CHANNELMSG_GPADL_HEADER;
	hdr->child_relid = ch->offermsg.child_relid;
	hdr->gpadl = handle;
	hdr->range_buflen = sizeof(struct gpa_range) + pages * sizeof(u64);
	hdr->rangecount = 1;
	hdr->range[0].byte_count = size;
	hdr->range[0].byte_offset = 0;
	n = min_t(u32, pages, VSV_GPADL_HDR_PFNS);
	for (i = 0; i < n; i++)
		hdr->range[0].pfn_array[i] = virt_to_hvpfn(kbuffer + i * HV_HYP_PAGE_SIZE);

	mutex_lock(&vsv_gpadl_post_lock);
	ret = vsv_post_msg(msg, sizeof(*hdr) + sizeof(struct gpa_range) + n * sizeof(u64));
	for (done = n; !ret && done < pages; done += n) {
		memset(msg, 0, VSV_MSG_MAX);
		body = msg;
		body->header.msgtype = CHANNELMSG_GPADL_BODY;
		body->gpadl = handle;
		n = min_t(u32, pages - done, VSV_GPADL_BODY_PFNS);
		for (i = 0; i < n; i++)
			body->pfn[i] = virt_to_hvpfn(kbuffer + (done + i) * HV_HYP_PAGE_SIZE);
		ret = vsv_post_msg(msg, sizeof(*body) + n * sizeof(u64));
	}
	mutex_unlock(&vsv_gpadl_post_lock);
	kfree(msg);
	return ret;
}

/**
 * vmbus_establish_gpadl - describe a guest buffer to the host
 * @channel: the channel the GPADL belongs to
 * @kbuffer: page-aligned buffer (kmalloc'd, page allocator or vmalloc)
 * @size: its size, a multiple of the page size
 * @gpadl: filled in on success
 *
 * Return: 0, -EINVAL for a bad buffer, -ENODEV if the channel is rescinded or
 * the host is gone, -EIO if the host refused it, -ETIMEDOUT.
 */
int vmbus_establish_gpadl(struct vmbus_channel *channel, void *kbuffer,
			  u32 size, struct vmbus_gpadl *gpadl)
{
	u32 pages = size >> HV_HYP_PAGE_SHIFT;
	const struct vmbus_channel_gpadl_created *created;
	struct vsv_wait *w;
	u32 handle;
	int ret;

	if (!size || !PAGE_ALIGNED(size) || !PAGE_ALIGNED(kbuffer) ||
	    pages > VSV_GPADL_MAX_PFNS)
		return -EINVAL;
	if (READ_ONCE(channel->rescind))
		return -ENODEV;

	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	handle = atomic_inc_return(&vsv_next_gpadl) - 1;
	vsv_wait_init(w, CHANNELMSG_GPADL_CREATED, channel->offermsg.child_relid,
		      handle, channel);
	ret = vsv_wait_begin(w);
	if (ret)
		goto out_free;
	ret = vsv_wait_end(w, vsv_post_gpadl(channel, kbuffer, pages, handle, size));
	if (ret)
		goto out_free;

	created = (const void *)w->reply;
	if (created->creation_status) {
		dev_dbg(vsv.parent, "relid %u: host refused GPADL %#x: status %#x\n",
			channel->offermsg.child_relid, handle, created->creation_status);
		ret = -EIO;
		goto out_free;
	}
	if (READ_ONCE(channel->rescind)) {
		ret = -ENODEV;
		goto out_free;
	}
	gpadl->gpadl_handle = handle;
	gpadl->size = size;
	gpadl->buffer = kbuffer;
	gpadl->decrypted = false;

out_free:
	kfree(w);
	return ret;
}
EXPORT_SYMBOL_GPL(vmbus_establish_gpadl);

/**
 * vmbus_teardown_gpadl - withdraw a GPADL from the host
 * @channel: the channel it was established on
 * @gpadl: the GPADL; its handle is cleared on success
 *
 * Return: 0 once the host no longer uses the buffer (it answered, the channel
 * was rescinded, or the host is gone); otherwise an error, and the caller
 * must not free the buffer.
 */
int vmbus_teardown_gpadl(struct vmbus_channel *channel, struct vmbus_gpadl *gpadl)
{
	struct vmbus_channel_gpadl_teardown msg = {
		.header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
		.child_relid = channel->offermsg.child_relid,
		.gpadl = gpadl->gpadl_handle,
	};
	struct vsv_wait *w;
	int ret = 0;

	if (!vsv_host_gone()) {
		w = kmalloc(sizeof(*w), GFP_KERNEL);
		if (!w)
			return -ENOMEM;
		vsv_wait_init(w, CHANNELMSG_GPADL_TORNDOWN, gpadl->gpadl_handle, 0, channel);
		ret = vsv_post_and_wait(w, &msg, sizeof(msg));
		kfree(w);
	}
	/* A rescinded channel's or a gone host's GPADLs are no longer in use. */
	if (ret == -ENODEV || READ_ONCE(channel->rescind))
		ret = 0;
	if (ret)
		return ret;
	gpadl->gpadl_handle = 0;
	gpadl->size = 0;
	gpadl->buffer = NULL;
	return 0;
}
EXPORT_SYMBOL_GPL(vmbus_teardown_gpadl);
