// SPDX-License-Identifier: GPL-2.0
/*
 * The channel API that VSC drivers call, with the prototypes of
 * include/linux/hyperv.h: open and close (rings, their GPADL, OPENCHANNEL and
 * CLOSECHANNEL), sends, receives, the requestor table that turns request
 * addresses into transaction ids, and the channel callback's tasklet.
 */
#include <linux/bitmap.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "vmbus_priv.h"

/* ---- callback ---- */

/*
 * Softirq. In batched mode the host's interrupts stay masked while the
 * callback drains the ring; it runs again if packets arrived meanwhile, for
 * at most two jiffies before yielding to a fresh tasklet run.
 */
void vsv_channel_tasklet(struct tasklet_struct *t)
{
	struct vmbus_channel *ch = from_tasklet(ch, t, callback_event);
	unsigned long limit = jiffies + 2;
	void (*fn)(void *context);

	for (;;) {
		fn = READ_ONCE(ch->onchannel_callback);
		if (!fn)
			return;
		fn(ch->channel_callback_context);
		if (ch->callback_mode != HV_CALL_BATCHED)
			return;
		if (!hv_end_read(&ch->inbound))
			return;
		hv_begin_read(&ch->inbound);
		if (time_after(jiffies, limit)) {
			tasklet_schedule(&ch->callback_event);
			return;
		}
	}
}

/* Process context: once this returns the callback neither runs nor starts. */
void vsv_reset_channel_cb(struct vmbus_channel *ch)
{
	unsigned long flags;

	tasklet_disable(&ch->callback_event);
	spin_lock_irqsave(&ch->sched_lock, flags);
	ch->onchannel_callback = NULL;
	spin_unlock_irqrestore(&ch->sched_lock, flags);
	tasklet_enable(&ch->callback_event);
}

void vmbus_setevent(struct vmbus_channel *channel)
{
	++channel->sig_events;
	vsv_signal_channel(channel->offermsg.child_relid);
}
EXPORT_SYMBOL_GPL(vmbus_setevent);

void vmbus_set_event(struct vmbus_channel *channel)
{
	vmbus_setevent(channel);
}
EXPORT_SYMBOL_GPL(vmbus_set_event);

void vmbus_set_sc_create_callback(struct vmbus_channel *primary_channel,
				  void (*sc_cr_cb)(struct vmbus_channel *new_sc))
{
	primary_channel->sc_creation_callback = sc_cr_cb;
}
EXPORT_SYMBOL_GPL(vmbus_set_sc_create_callback);

void vmbus_set_chn_rescind_callback(struct vmbus_channel *channel,
				    void (*chn_rescind_cb)(struct vmbus_channel *))
{
	channel->chn_rescind_callback = chn_rescind_cb;
}
EXPORT_SYMBOL_GPL(vmbus_set_chn_rescind_callback);

/* ---- requestor ---- */

static int vsv_requestor_alloc(struct vmbus_requestor *rqstor, u32 size)
{
	u32 i;

	rqstor->req_arr = kcalloc(size, sizeof(u64), GFP_KERNEL);
	if (!rqstor->req_arr)
		return -ENOMEM;
	rqstor->req_bitmap = bitmap_zalloc(size, GFP_KERNEL);
	if (!rqstor->req_bitmap) {
		kfree(rqstor->req_arr);
		rqstor->req_arr = NULL;
		return -ENOMEM;
	}
	/* Free slots form a list threaded through req_arr; size ends it. */
	for (i = 0; i < size; i++)
		rqstor->req_arr[i] = i + 1;
	rqstor->size = size;
	rqstor->next_request_id = 0;
	return 0;
}

static void vsv_requestor_free(struct vmbus_requestor *rqstor)
{
	kfree(rqstor->req_arr);
	bitmap_free(rqstor->req_bitmap);
	rqstor->req_arr = NULL;
	rqstor->req_bitmap = NULL;
	rqstor->size = 0;
}

/**
 * vmbus_next_request_id - store a request address, get its transaction id
 * @channel: channel with a requestor (rqstor_size set before vmbus_open)
 * @rqst_addr: the driver's value for the request
 *
 * Return: an id from 1 up, VMBUS_RQST_ERROR if the table is full, or
 * VMBUS_NO_RQSTOR if the channel has no requestor.
 */
u64 vmbus_next_request_id(struct vmbus_channel *channel, u64 rqst_addr)
{
	struct vmbus_requestor *rqstor = &channel->requestor;
	unsigned long flags;
	u64 slot;

	if (!channel->rqstor_size)
		return VMBUS_NO_RQSTOR;

	lock_requestor(channel, flags);
	slot = rqstor->next_request_id;
	if (!rqstor->req_arr || slot >= rqstor->size) {
		unlock_requestor(channel, flags);
		return VMBUS_RQST_ERROR;
	}
	rqstor->next_request_id = rqstor->req_arr[slot];
	rqstor->req_arr[slot] = rqst_addr;
	__set_bit(slot, rqstor->req_bitmap);
	unlock_requestor(channel, flags);

	/* Id 0 means "no completion wanted" to the host. */
	return slot + 1;
}
EXPORT_SYMBOL_GPL(vmbus_next_request_id);

/* Caller holds the requestor lock. */
u64 __vmbus_request_addr_match(struct vmbus_channel *channel, u64 trans_id,
			       u64 rqst_addr)
{
	struct vmbus_requestor *rqstor = &channel->requestor;
	u64 addr, slot;

	if (!channel->rqstor_size)
		return VMBUS_NO_RQSTOR;
	/* 0 is the host's unsolicited id; anything else must name a used slot. */
	if (!trans_id || !rqstor->req_arr)
		return VMBUS_RQST_ERROR;
	slot = trans_id - 1;
	if (slot >= rqstor->size || !test_bit(slot, rqstor->req_bitmap))
		return VMBUS_RQST_ERROR;

	addr = rqstor->req_arr[slot];
	if (rqst_addr == VMBUS_RQST_ADDR_ANY || addr == rqst_addr) {
		rqstor->req_arr[slot] = rqstor->next_request_id;
		rqstor->next_request_id = slot;
		__clear_bit(slot, rqstor->req_bitmap);
	}
	return addr;
}
EXPORT_SYMBOL_GPL(__vmbus_request_addr_match);

u64 vmbus_request_addr_match(struct vmbus_channel *channel, u64 trans_id,
			     u64 rqst_addr)
{
	unsigned long flags;
	u64 addr;

	lock_requestor(channel, flags);
	addr = __vmbus_request_addr_match(channel, trans_id, rqst_addr);
	unlock_requestor(channel, flags);
	return addr;
}
EXPORT_SYMBOL_GPL(vmbus_request_addr_match);

/**
 * vmbus_request_addr - take back the address stored for a transaction id
 * @channel: the channel
 * @trans_id: id from a completion packet (host-controlled)
 *
 * Return: the address, freeing the id; VMBUS_RQST_ERROR for 0, an id out of
 * range or one not in use.
 */
u64 vmbus_request_addr(struct vmbus_channel *channel, u64 trans_id)
{
	return vmbus_request_addr_match(channel, trans_id, VMBUS_RQST_ADDR_ANY);
}
EXPORT_SYMBOL_GPL(vmbus_request_addr);

/* ---- rings ---- */

int vmbus_alloc_ring(struct vmbus_channel *channel, u32 send_size, u32 recv_size)
{
	struct page *page;

	if (!PAGE_ALIGNED(send_size) || !PAGE_ALIGNED(recv_size) ||
	    send_size < 2 * PAGE_SIZE || recv_size < 2 * PAGE_SIZE)
		return -EINVAL;
	if (channel->ringbuffer_page)
		return -EBUSY;
	page = alloc_pages(GFP_KERNEL | __GFP_ZERO, get_order(send_size + recv_size));
	if (!page)
		return -ENOMEM;
	channel->ringbuffer_page = page;
	channel->ringbuffer_pagecount = (send_size + recv_size) >> PAGE_SHIFT;
	channel->ringbuffer_send_offset = send_size >> PAGE_SHIFT;
	return 0;
}
EXPORT_SYMBOL_GPL(vmbus_alloc_ring);

void vmbus_free_ring(struct vmbus_channel *channel)
{
	vsv_ring_cleanup(&channel->outbound);
	vsv_ring_cleanup(&channel->inbound);
	if (!channel->ringbuffer_page)
		return;
	if (channel->ringbuffer_gpadlhandle.gpadl_handle) {
		/* The host may still use the pages: leaking beats corrupting. */
		pr_warn_ratelimited("vscsim_vmbus: relid %u: ring GPADL never torn down; pages leaked\n",
				    channel->offermsg.child_relid);
	} else {
		__free_pages(channel->ringbuffer_page,
			     get_order(channel->ringbuffer_pagecount << PAGE_SHIFT));
	}
	channel->ringbuffer_page = NULL;
}
EXPORT_SYMBOL_GPL(vmbus_free_ring);

/* ---- open and close ---- */

static int vsv_open(struct vmbus_channel *ch, void *userdata, u32 userdatalen,
		    void (*onchannel_callback)(void *context), void *context)
{
	struct vmbus_channel_open_channel *msg;
	const struct vmbus_channel_open_result *result;
	u32 relid = ch->offermsg.child_relid;
	u32 send_pages = ch->ringbuffer_send_offset;
	struct page *page = ch->ringbuffer_page;
	unsigned long flags;
	struct vsv_wait *w;
	int ret;

	if (userdatalen > MAX_USER_DEFINED_BYTES || (userdatalen && !userdata))
		return -EINVAL;
	if (!page || ch->state != CHANNEL_OPEN_STATE)
		return -EINVAL;
	if (READ_ONCE(ch->rescind))
		return -ENODEV;

	msg = kzalloc(sizeof(*msg), GFP_KERNEL);
	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!msg || !w) {
		ret = -ENOMEM;
		goto err_free_msgs;
	}

	ch->state = CHANNEL_OPENING_STATE;
	if (!ch->max_pkt_size)
		ch->max_pkt_size = VMBUS_DEFAULT_MAX_PKT_SIZE;
	ret = vsv_ring_init(&ch->outbound, page, send_pages, ch->max_pkt_size);
	if (ret)
		goto err_reset_state;
	ret = vsv_ring_init(&ch->inbound, page + send_pages,
			    ch->ringbuffer_pagecount - send_pages, ch->max_pkt_size);
	if (ret)
		goto err_cleanup_outbound;
	if (ch->rqstor_size) {
		ret = vsv_requestor_alloc(&ch->requestor, ch->rqstor_size);
		if (ret)
			goto err_cleanup_inbound;
	}
	ret = vmbus_establish_gpadl(ch, page_address(page),
				    ch->ringbuffer_pagecount << PAGE_SHIFT,
				    &ch->ringbuffer_gpadlhandle);
	if (ret)
		goto err_free_requestor;

	ch->channel_callback_context = context;
	spin_lock_irqsave(&ch->sched_lock, flags);
	ch->onchannel_callback = onchannel_callback;
	spin_unlock_irqrestore(&ch->sched_lock, flags);

	msg->header.msgtype = CHANNELMSG_OPENCHANNEL;
	msg->child_relid = relid;
	msg->openid = relid;
	msg->ringbuffer_gpadlhandle = ch->ringbuffer_gpadlhandle.gpadl_handle;
	msg->target_vp = 0;
	msg->downstream_ringbuffer_pageoffset = send_pages;
	if (userdatalen)
		memcpy(msg->userdata, userdata, userdatalen);
	vsv_wait_init(w, CHANNELMSG_OPENCHANNEL_RESULT, relid, relid, ch);
	ret = vsv_post_and_wait(w, msg, sizeof(*msg));
	if (ret)
		goto err_reset_callback;
	result = (const void *)w->reply;
	if (result->status) {
		dev_dbg(vsv.parent, "relid %u: host refused the open: status %#x\n",
			relid, result->status);
		ret = -EAGAIN;
		goto err_reset_callback;
	}
	if (READ_ONCE(ch->rescind)) {
		ret = -ENODEV;
		goto err_reset_callback;
	}
	ch->state = CHANNEL_OPENED_STATE;
	kfree(w);
	kfree(msg);
	return 0;

err_reset_callback:
	vsv_reset_channel_cb(ch);
	/* If this fails the GPADL stays set and vmbus_free_ring leaks the pages. */
	vmbus_teardown_gpadl(ch, &ch->ringbuffer_gpadlhandle);
err_free_requestor:
	vsv_requestor_free(&ch->requestor);
err_cleanup_inbound:
	vsv_ring_cleanup(&ch->inbound);
err_cleanup_outbound:
	vsv_ring_cleanup(&ch->outbound);
err_reset_state:
	ch->state = CHANNEL_OPEN_STATE;
err_free_msgs:
	kfree(w);
	kfree(msg);
	return ret;
}

int vmbus_connect_ring(struct vmbus_channel *channel,
		       void (*onchannel_callback)(void *context), void *context)
{
	return vsv_open(channel, NULL, 0, onchannel_callback, context);
}
EXPORT_SYMBOL_GPL(vmbus_connect_ring);

/**
 * vmbus_open - allocate the rings and open the channel with the host
 * @channel: an offered, closed channel
 * @send_ringbuffer_size: guest-to-host ring bytes, header page included
 * @recv_ringbuffer_size: host-to-guest ring bytes, header page included
 * @userdata: up to MAX_USER_DEFINED_BYTES for OPENCHANNEL, or NULL
 * @userdatalen: their length
 * @onchannel_callback: called in softirq context when the host signals
 * @context: its argument
 *
 * Return: 0; -EINVAL; -ENOMEM; -ENODEV (rescinded, host gone); -EAGAIN (the
 * host refused the open); -EIO; -ETIMEDOUT.
 */
int vmbus_open(struct vmbus_channel *channel, u32 send_ringbuffer_size,
	       u32 recv_ringbuffer_size, void *userdata, u32 userdatalen,
	       void (*onchannel_callback)(void *context), void *context)
{
	int ret;

	ret = vmbus_alloc_ring(channel, send_ringbuffer_size, recv_ringbuffer_size);
	if (ret)
		return ret;
	ret = vsv_open(channel, userdata, userdatalen, onchannel_callback, context);
	if (ret)
		vmbus_free_ring(channel);
	return ret;
}
EXPORT_SYMBOL_GPL(vmbus_open);

/* Sub-channels are never created by this bus, so only the primary closes. */
int vmbus_disconnect_ring(struct vmbus_channel *channel)
{
	struct vmbus_channel_close_channel *msg = &channel->close_msg.msg;
	int ret = 0;

	vsv_reset_channel_cb(channel);
	if (channel->state != CHANNEL_OPENED_STATE)
		return -EINVAL;
	channel->state = CHANNEL_OPEN_STATE;

	if (!vsv_host_gone()) {
		memset(msg, 0, sizeof(*msg));
		msg->header.msgtype = CHANNELMSG_CLOSECHANNEL;
		msg->child_relid = channel->offermsg.child_relid;
		ret = vsv_post_msg(msg, sizeof(*msg));
		if (ret == -ENODEV)
			ret = 0;	/* the host went away meanwhile */
		if (ret)
			pr_warn_ratelimited("vscsim_vmbus: relid %u: CLOSECHANNEL not sent: %d\n",
					    channel->offermsg.child_relid, ret);
	}
	if (!ret && channel->ringbuffer_gpadlhandle.gpadl_handle) {
		ret = vmbus_teardown_gpadl(channel, &channel->ringbuffer_gpadlhandle);
		if (ret)
			pr_warn_ratelimited("vscsim_vmbus: relid %u: ring GPADL teardown failed: %d\n",
					    channel->offermsg.child_relid, ret);
	}
	if (!ret)
		vsv_requestor_free(&channel->requestor);
	return ret;
}
EXPORT_SYMBOL_GPL(vmbus_disconnect_ring);

void vmbus_close(struct vmbus_channel *channel)
{
	if (!vmbus_disconnect_ring(channel))
		vmbus_free_ring(channel);
}
EXPORT_SYMBOL_GPL(vmbus_close);

/* ---- send ---- */

int vmbus_sendpacket_getid(struct vmbus_channel *channel, void *buffer,
			   u32 bufferlen, u64 requestid, u64 *trans_id,
			   enum vmbus_packet_type type, u32 flags)
{
	struct vmpacket_descriptor desc;
	u32 len = sizeof(desc) + bufferlen;
	u32 padded = ALIGN(len, sizeof(u64));
	u64 pad = 0;
	struct kvec kv[3];

	if (bufferlen > U16_MAX * 8 - sizeof(desc) - sizeof(u64))
		return -EINVAL;
	desc.type = type;
	desc.offset8 = sizeof(desc) >> 3;
	desc.len8 = padded >> 3;
	desc.flags = flags;
	desc.trans_id = VMBUS_RQST_ERROR;	/* set by the ring write */

	kv[0].iov_base = &desc;
	kv[0].iov_len = sizeof(desc);
	kv[1].iov_base = buffer;
	kv[1].iov_len = bufferlen;
	kv[2].iov_base = &pad;
	kv[2].iov_len = padded - len;
	return vsv_ring_write(channel, kv, 3, requestid, trans_id);
}
EXPORT_SYMBOL(vmbus_sendpacket_getid);

int vmbus_sendpacket(struct vmbus_channel *channel, void *buffer, u32 bufferlen,
		     u64 requestid, enum vmbus_packet_type type, u32 flags)
{
	return vmbus_sendpacket_getid(channel, buffer, bufferlen, requestid, NULL,
				      type, flags);
}
EXPORT_SYMBOL(vmbus_sendpacket);

/**
 * vmbus_sendpacket_mpb_desc - send a GPA-direct packet
 * @channel: an open channel
 * @desc: the driver-built vmbus_packet_mpb_array with its range and pfns
 * @desc_size: its size in bytes (a multiple of 8)
 * @buffer: in-band payload after the descriptor
 * @bufferlen: its length
 * @requestid: request address (through the requestor) or transaction id
 *
 * Return: 0; -EAGAIN (ring full or requestor full); -ENODEV (rescinded).
 */
int vmbus_sendpacket_mpb_desc(struct vmbus_channel *channel,
			      struct vmbus_packet_mpb_array *desc, u32 desc_size,
			      void *buffer, u32 bufferlen, u64 requestid)
{
	u32 len = desc_size + bufferlen;
	u32 padded = ALIGN(len, sizeof(u64));
	u64 pad = 0;
	struct kvec kv[3];

	if (desc_size < sizeof(*desc) || (desc_size & 7) || padded > U16_MAX * 8)
		return -EINVAL;
	desc->type = VM_PKT_DATA_USING_GPA_DIRECT;
	desc->flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	desc->dataoffset8 = desc_size >> 3;
	desc->length8 = padded >> 3;
	desc->transactionid = VMBUS_RQST_ERROR;	/* set by the ring write */
	desc->reserved = 0;
	desc->rangecount = 1;

	kv[0].iov_base = desc;
	kv[0].iov_len = desc_size;
	kv[1].iov_base = buffer;
	kv[1].iov_len = bufferlen;
	kv[2].iov_base = &pad;
	kv[2].iov_len = padded - len;
	return vsv_ring_write(channel, kv, 3, requestid, NULL);
}
EXPORT_SYMBOL_GPL(vmbus_sendpacket_mpb_desc);

/* ---- receive ---- */

int vmbus_recvpacket(struct vmbus_channel *channel, void *buffer, u32 bufferlen,
		     u32 *buffer_actual_len, u64 *requestid)
{
	return vsv_ring_read(channel, buffer, bufferlen, buffer_actual_len,
			     requestid, false);
}
EXPORT_SYMBOL(vmbus_recvpacket);

int vmbus_recvpacket_raw(struct vmbus_channel *channel, void *buffer,
			 u32 bufferlen, u32 *buffer_actual_len, u64 *requestid)
{
	return vsv_ring_read(channel, buffer, bufferlen, buffer_actual_len,
			     requestid, true);
}
EXPORT_SYMBOL_GPL(vmbus_recvpacket_raw);
