// SPDX-License-Identifier: GPL-2.0
/*
 * One ioctl: check the caller's input, pin its buffers, send one GPA-direct
 * packet, wait a bounded time for the host's completion. And the channel
 * callback, which matches completions to requests through the channel's
 * requestor table and trusts nothing the host wrote.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "az_blob_priv.h"

/* Every page this module holds pinned, for leak checks (debugfs). */
static atomic_long_t az_blob_pinned = ATOMIC_LONG_INIT(0);

long az_blob_pinned_pages(void)
{
	return atomic_long_read(&az_blob_pinned);
}

/* ---- the caller's input ---- */

/* Pages spanned by a buffer; 0 for none. The range was checked not to wrap. */
static unsigned long az_blob_span(u64 addr, u32 len)
{
	if (!len)
		return 0;
	return ((addr + len - 1) >> PAGE_SHIFT) - (addr >> PAGE_SHIFT) + 1;
}

static int az_blob_check_buffer(u64 addr, u32 len)
{
	u64 end;

	if (!len)
		return 0;
	if (!addr)
		return -EINVAL;
	if (check_add_overflow(addr, (u64)len, &end) ||
	    !access_ok(u64_to_user_ptr(addr), len))
		return -EFAULT;
	return 0;
}

/* Everything that can be checked before touching the caller's memory. */
static int az_blob_check_input(const struct az_blob_request_sync *u,
			       unsigned long *nr_pages)
{
	unsigned long pages;
	int ret;

	if (u->reserved || !u->request_len || !u->response_len ||
	    u->data_valid > u->data_len || u->timeout > AZ_BLOB_MAX_TIMEOUT_MS)
		return -EINVAL;
	ret = az_blob_check_buffer(u->data_buffer, u->data_len);
	if (!ret)
		ret = az_blob_check_buffer(u->request_buffer, u->request_len);
	if (!ret)
		ret = az_blob_check_buffer(u->response_buffer, u->response_len);
	if (ret)
		return ret;
	pages = az_blob_span(u->data_buffer, u->data_len) +
		az_blob_span(u->request_buffer, u->request_len) +
		az_blob_span(u->response_buffer, u->response_len);
	if (pages > AZ_BLOB_MAX_PAGES)
		return -EINVAL;
	*nr_pages = pages;
	return 0;
}

/* ---- pinning ---- */

static void az_blob_unpin(struct az_blob_req *req)
{
	unsigned int n = req->nr_pinned;
	unsigned int data = min(n, req->nr_data_pages);
	unsigned int request = min(n - data, req->nr_request_pages);
	unsigned int response = n - data - request;
	struct page **p = req->pages;

	/* What the host may have written is marked dirty. */
	if (data)
		unpin_user_pages_dirty_lock(p, data, req->data_writable);
	if (request)
		unpin_user_pages(p + data, request);
	if (response)
		unpin_user_pages_dirty_lock(p + data + request, response, true);
	atomic_long_sub(n, &az_blob_pinned);
	req->nr_pinned = 0;
}

/* Pins one buffer's pages at req->pages[req->nr_pinned...]; all or error. */
static int az_blob_pin(struct az_blob_req *req, u64 addr, u32 len, bool write)
{
	unsigned long want = az_blob_span(addr, len);
	unsigned long start = addr & PAGE_MASK;
	unsigned int flags = write ? FOLL_WRITE : 0;
	int got;

	while (want) {
		got = pin_user_pages_fast(start, want, flags,
					  req->pages + req->nr_pinned);
		if (got <= 0)
			return got ? got : -EFAULT;
		/* Counted as soon as pinned, so a failure below unpins them. */
		req->nr_pinned += got;
		atomic_long_add(got, &az_blob_pinned);
		want -= got;
		start += (unsigned long)got << PAGE_SHIFT;
	}
	return 0;
}

/* ---- request lifetime ---- */

static void az_blob_req_free(struct az_blob_req *req)
{
	az_blob_unpin(req);
	/* Page arrays can be large: kvmalloc'd, so kvfree'd. */
	kvfree(req->pages);
	kvfree(req->desc);
	az_blob_dev_put(req->dev);
	kfree(req);
}

static void az_blob_req_release_work(struct work_struct *work)
{
	az_blob_req_free(container_of(work, struct az_blob_req, release_work));
}

static void az_blob_req_release(struct kref *kref)
{
	struct az_blob_req *req = container_of(kref, struct az_blob_req, kref);

	/* Unpinning may sleep; the last reference may be the callback's. */
	if (in_task()) {
		az_blob_req_free(req);
	} else {
		INIT_WORK(&req->release_work, az_blob_req_release_work);
		queue_work(az_blob_wq, &req->release_work);
	}
}

static void az_blob_req_put(struct az_blob_req *req)
{
	kref_put(&req->kref, az_blob_req_release);
}

static struct az_blob_req *az_blob_req_alloc(struct az_blob_dev *dev,
					     const struct az_blob_request_sync *u,
					     unsigned long nr_pages)
{
	struct az_blob_req *req = kzalloc(sizeof(*req), GFP_KERNEL);

	if (!req)
		return NULL;
	kref_init(&req->kref);
	init_completion(&req->done);
	INIT_LIST_HEAD(&req->dev_node);
	INIT_LIST_HEAD(&req->file_node);
	req->user = *u;
	req->response_cap = u->response_len;
	req->nr_pages = nr_pages;
	req->pages = kvmalloc_array(nr_pages, sizeof(*req->pages), GFP_KERNEL);
	req->desc_size = struct_size(req->desc, range.pfn_array, nr_pages);
	req->desc = kvzalloc(req->desc_size, GFP_KERNEL);
	kref_get(&dev->kref);
	req->dev = dev;
	if (!req->pages || !req->desc) {
		az_blob_req_free(req);
		return NULL;
	}
	return req;
}

/* Pins the three buffers and fills in the packet's range and payload. */
static int az_blob_req_build(struct az_blob_req *req, u32 timeout_ms)
{
	const struct az_blob_request_sync *u = &req->user;
	struct az_blob_vsp_request *w = &req->wire;
	unsigned long base;
	unsigned int i;
	int ret;

	req->nr_data_pages = az_blob_span(u->data_buffer, u->data_len);
	req->nr_request_pages = az_blob_span(u->request_buffer, u->request_len);
	/* Data pages are written by the host only if there is room to answer. */
	req->data_writable = u->data_len > u->data_valid;

	ret = az_blob_pin(req, u->data_buffer, u->data_len, req->data_writable);
	if (!ret)
		ret = az_blob_pin(req, u->request_buffer, u->request_len, false);
	if (!ret)
		ret = az_blob_pin(req, u->response_buffer, u->response_len, true);
	if (ret)
		return ret;

	/* One range over all pages; each buffer's offset is into that range. */
	req->desc->range.offset = 0;
	req->desc->range.len = req->nr_pages << PAGE_SHIFT;
	for (i = 0; i < req->nr_pages; i++)
		req->desc->range.pfn_array[i] = page_to_pfn(req->pages[i]);

	w->version = cpu_to_le32(AZ_BLOB_WIRE_VERSION);
	w->timeout_ms = cpu_to_le32(timeout_ms);
	w->operation_type = cpu_to_le32(AZ_BLOB_OP_USER_REQUEST);
	w->data_buffer_offset = cpu_to_le32(u->data_len ?
					    offset_in_page(u->data_buffer) : 0);
	w->data_buffer_length = cpu_to_le32(u->data_len);
	w->data_buffer_valid = cpu_to_le32(u->data_valid);
	base = (unsigned long)req->nr_data_pages << PAGE_SHIFT;
	w->request_buffer_offset =
		cpu_to_le32(base + offset_in_page(u->request_buffer));
	w->request_buffer_length = cpu_to_le32(u->request_len);
	base += (unsigned long)req->nr_request_pages << PAGE_SHIFT;
	w->response_buffer_offset =
		cpu_to_le32(base + offset_in_page(u->response_buffer));
	w->response_buffer_length = cpu_to_le32(u->response_len);
	memcpy(w->transaction_id, u->guid, sizeof(w->transaction_id));
	return 0;
}

/* ---- the device's in-flight set (dev->lock) ---- */

/*
 * Makes the request visible to removal and the callback, and takes the
 * channel's reference, before the packet can reach the host.
 */
static int az_blob_register(struct az_blob_file *file, struct az_blob_req *req)
{
	struct az_blob_dev *dev = file->dev;
	int ret = 0;

	spin_lock_bh(&dev->lock);
	if (dev->removing) {
		ret = -ENODEV;
	} else if (dev->outstanding >= az_blob_queue_depth) {
		dev->stats.busy++;
		ret = -EBUSY;
	} else {
		dev->outstanding++;
		dev->active++;
		list_add_tail(&req->dev_node, &dev->requests);
		list_add_tail(&req->file_node, &file->pending);
		kref_get(&req->kref);
		req->state = AZ_BLOB_REQ_PENDING;
		req->sent_jiffies = jiffies;
	}
	spin_unlock_bh(&dev->lock);
	return ret;
}

/* Caller holds dev->lock. The request no longer holds a requestor id. */
static bool az_blob_unlist_locked(struct az_blob_dev *dev,
				  struct az_blob_req *req)
{
	if (list_empty(&req->dev_node))
		return false;
	list_del_init(&req->dev_node);
	dev->outstanding--;
	return true;
}

/* The caller stops using the channel; returns the request's final state. */
static enum az_blob_req_state az_blob_leave(struct az_blob_dev *dev,
					    struct az_blob_req *req,
					    bool unlist)
{
	enum az_blob_req_state state;
	bool drop_channel_ref = false;

	spin_lock_bh(&dev->lock);
	if (unlist)
		drop_channel_ref = az_blob_unlist_locked(dev, req);
	state = req->state;
	if (state == AZ_BLOB_REQ_PENDING) {
		req->state = AZ_BLOB_REQ_ABANDONED;
		dev->stats.timeouts++;
	}
	list_del_init(&req->file_node);
	if (!--dev->active && dev->removing)
		wake_up(&dev->drain_wq);
	spin_unlock_bh(&dev->lock);
	if (drop_channel_ref)
		az_blob_req_put(req);
	return state;
}

/* Removal: every request still waiting fails now (remove holds dev->lock). */
void az_blob_fail_in_flight(struct az_blob_dev *dev, int error)
{
	struct az_blob_req *req;

	lockdep_assert_held(&dev->lock);
	list_for_each_entry(req, &dev->requests, dev_node) {
		if (req->state != AZ_BLOB_REQ_PENDING)
			continue;
		req->state = AZ_BLOB_REQ_FAILED;
		req->error = error;
		dev->stats.failed_on_removal++;
		complete(&req->done);
	}
}

/*
 * Removal, after vmbus_close: no callback runs any more and the host can no
 * longer write, so the requests still holding ids (abandoned ones) go.
 */
void az_blob_release_channel_refs(struct az_blob_dev *dev)
{
	struct az_blob_req *req;

	for (;;) {
		spin_lock_bh(&dev->lock);
		req = list_first_entry_or_null(&dev->requests,
					       struct az_blob_req, dev_node);
		if (req)
			az_blob_unlist_locked(dev, req);
		spin_unlock_bh(&dev->lock);
		if (!req)
			return;
		az_blob_req_put(req);
	}
}

/* ---- send and wait ---- */

/* A full ring or requestor table is waited out, within the deadline. */
static int az_blob_send(struct az_blob_dev *dev, struct az_blob_req *req,
			unsigned long deadline)
{
	int ret;

	for (;;) {
		req->sent_jiffies = jiffies;
		ret = vmbus_sendpacket_mpb_desc(dev->channel, req->desc,
						req->desc_size, &req->wire,
						sizeof(req->wire),
						(unsigned long)req);
		if (ret != -EAGAIN)
			return ret;
		if (READ_ONCE(dev->removing) || READ_ONCE(dev->channel->rescind))
			return -ENODEV;
		if (time_after_eq(jiffies, deadline))
			return -ETIMEDOUT;
		if (fatal_signal_pending(current))
			return -EINTR;
		usleep_range(100, 1000);
	}
}

static int az_blob_wait(struct az_blob_dev *dev, struct az_blob_req *req,
			unsigned long deadline)
{
	long left = 1;
	enum az_blob_req_state state;

	if (time_before(jiffies, deadline))
		left = wait_for_completion_killable_timeout(&req->done,
							    deadline - jiffies);
	state = az_blob_leave(dev, req, false);
	switch (state) {
	case AZ_BLOB_REQ_ANSWERED:
		return 0;
	case AZ_BLOB_REQ_FAILED:
		return req->error;
	default:
		/* Abandoned: the id stays in use, the pages stay pinned. */
		return left < 0 ? -EINTR : -ETIMEDOUT;
	}
}

long az_blob_user_request(struct az_blob_file *file,
			  struct az_blob_request_sync __user *uarg)
{
	struct az_blob_dev *dev = file->dev;
	struct az_blob_request_sync u;
	struct az_blob_request_sync_response answer;
	struct az_blob_req *req;
	unsigned long nr_pages, deadline;
	u32 timeout_ms;
	long ret;

	if (copy_from_user(&u, uarg, sizeof(u)))
		return -EFAULT;
	ret = az_blob_check_input(&u, &nr_pages);
	if (ret)
		return ret;
	/* A quick check only: az_blob_register checks again under the lock. */
	if (READ_ONCE(dev->removing))
		return -ENODEV;
	vscsim_race_gate_point("az_blob.ioctl.checked");
	timeout_ms = u.timeout ? u.timeout : READ_ONCE(az_blob_timeout_ms);

	req = az_blob_req_alloc(dev, &u, nr_pages);
	if (!req)
		return -ENOMEM;
	ret = az_blob_req_build(req, timeout_ms);
	if (ret)
		goto out_put;
	ret = az_blob_register(file, req);
	if (ret)
		goto out_put;
	vscsim_race_gate_point("az_blob.ioctl.send");

	deadline = jiffies + msecs_to_jiffies(timeout_ms);
	ret = az_blob_send(dev, req, deadline);
	if (ret) {
		/* Not in the requestor table: nobody will answer it. */
		az_blob_leave(dev, req, true);
		if (ret == -EAGAIN)
			ret = -EBUSY;
		goto out_put;
	}
	spin_lock_bh(&dev->lock);
	dev->stats.requests++;
	spin_unlock_bh(&dev->lock);

	vscsim_race_gate_point("az_blob.ioctl.wait");
	ret = az_blob_wait(dev, req, deadline);
	if (ret)
		goto out_put;
	answer.status = le32_to_cpu(req->resp.error);
	answer.response_len = le32_to_cpu(req->resp.response_len);
	if (copy_to_user(&uarg->response, &answer, sizeof(answer)))
		ret = -EFAULT;
out_put:
	az_blob_req_put(req);
	return ret;
}

/* ---- the channel callback (softirq) ---- */

static void az_blob_on_packet(struct az_blob_dev *dev,
			      const struct vmpacket_descriptor *desc)
{
	struct az_blob_vsp_response resp;
	struct az_blob_req *req;
	bool malformed;
	u64 addr;

	if (desc->type != VM_PKT_COMP) {
		spin_lock(&dev->lock);
		dev->stats.bad_packets++;
		spin_unlock(&dev->lock);
		dev_dbg_ratelimited(&dev->hdev->device,
				    "packet of type %u ignored\n", desc->type);
		return;
	}
	/* Takes the id back; VMBUS_RQST_ERROR for 0, unknown, stale, duplicate. */
	addr = vmbus_request_addr(dev->channel, desc->trans_id);
	if (addr == VMBUS_RQST_ERROR) {
		spin_lock(&dev->lock);
		dev->stats.bad_ids++;
		spin_unlock(&dev->lock);
		dev_dbg_ratelimited(&dev->hdev->device,
				    "completion for unknown id %llu ignored\n",
				    desc->trans_id);
		return;
	}
	req = (struct az_blob_req *)(uintptr_t)addr;

	malformed = hv_pkt_datalen(desc) < sizeof(resp);
	if (!malformed) {
		memcpy(&resp, hv_pkt_data(desc), sizeof(resp));
		malformed = le32_to_cpu(resp.response_len) > req->response_cap;
	}

	spin_lock(&dev->lock);
	if (malformed)
		dev->stats.bad_packets++;
	if (req->state == AZ_BLOB_REQ_PENDING) {
		if (malformed) {
			req->state = AZ_BLOB_REQ_FAILED;
			req->error = -EIO;
		} else {
			req->state = AZ_BLOB_REQ_ANSWERED;
			req->resp = resp;
			dev->stats.answered++;
		}
		complete(&req->done);
	} else if (req->state == AZ_BLOB_REQ_ABANDONED) {
		dev->stats.late_completions++;
	}
	az_blob_unlist_locked(dev, req);
	spin_unlock(&dev->lock);
	if (malformed)
		dev_dbg_ratelimited(&dev->hdev->device,
				    "malformed completion for id %llu\n",
				    desc->trans_id);
	/* The channel's reference: the host is done with this request. */
	az_blob_req_put(req);
}

/* At most az_blob_completion_budget packets a call; the bus calls again. */
void az_blob_on_channel(void *context)
{
	struct az_blob_dev *dev = context;
	struct vmbus_channel *ch = dev->channel;
	const struct vmpacket_descriptor *desc;
	unsigned int budget = max(READ_ONCE(az_blob_completion_budget), 1U);
	unsigned int n = 0;

	desc = hv_pkt_iter_first(ch);
	while (desc) {
		az_blob_on_packet(dev, desc);
		if (++n == budget) {
			__hv_pkt_iter_next(ch, desc);
			hv_pkt_iter_close(ch);
			return;
		}
		desc = hv_pkt_iter_next(ch, desc);
	}
}
