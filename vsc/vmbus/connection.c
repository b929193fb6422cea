// SPDX-License-Identifier: GPL-2.0
/*
 * The VMBus connection: what the host's control messages mean and who is
 * waiting for them. Replies (VERSION_RESPONSE, OPENCHANNEL_RESULT,
 * GPADL_CREATED, GPADL_TORNDOWN, UNLOAD_RESPONSE) complete a waiting thread
 * from the mailbox tasklet; offers and rescinds run on an ordered workqueue.
 * Every wait on the host is bounded by the timeout_ms module parameter.
 */
#include <linux/module.h>
#include <linux/slab.h>

#include "vmbus_priv.h"

/* The SINT Hyper-V uses for VMBus messages (protocol 5.0 and later). */
#define VSV_MESSAGE_SINT	2

unsigned int vsv_timeout_ms = 5000;
module_param_named(timeout_ms, vsv_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "Time-out of every wait on the host, in milliseconds (default 5000)");

__u32 vmbus_proto_version;
EXPORT_SYMBOL_GPL(vmbus_proto_version);

static void vsv_gone_work_fn(struct work_struct *work);
static DECLARE_WORK(vsv_gone_work, vsv_gone_work_fn);

struct vsv_conn vsv = {
	.wait_lock = __SPIN_LOCK_UNLOCKED(vsv.wait_lock),
	.waits = LIST_HEAD_INIT(vsv.waits),
	.chan_lock = __SPIN_LOCK_UNLOCKED(vsv.chan_lock),
	.chan_mutex = __MUTEX_INITIALIZER(vsv.chan_mutex),
	.channels = LIST_HEAD_INIT(vsv.channels),
	.offers_delivered = COMPLETION_INITIALIZER(vsv.offers_delivered),
};

/* Newest first, as hv_vmbus offers them. */
static const u32 vsv_versions[] = {
	VERSION_WIN10_V5_3,
	VERSION_WIN10_V5_2,
	VERSION_WIN10_V5_1,
	VERSION_WIN10_V5,
	VERSION_WIN10_V4_1,
	VERSION_WIN10,
	VERSION_WIN8_1,
	VERSION_WIN8,
};

/* ---- waits for replies ---- */

void vsv_wait_init(struct vsv_wait *w, u32 reply_type, u32 key1, u32 key2,
		   struct vmbus_channel *channel)
{
	INIT_LIST_HEAD(&w->node);
	w->reply_type = reply_type;
	w->key1 = key1;
	w->key2 = key2;
	w->channel = channel;
	init_completion(&w->done);
	w->err = 0;
	w->reply_size = 0;
}

/* Must hold wait_lock. */
static void vsv_wait_finish(struct vsv_wait *w, int err)
{
	list_del_init(&w->node);
	w->err = err;
	complete(&w->done);
}

/* Registers w before its request is posted, so no reply can be missed. */
int vsv_wait_begin(struct vsv_wait *w)
{
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&vsv.wait_lock, flags);
	if (vsv_host_gone())
		ret = -ENODEV;
	else
		list_add_tail(&w->node, &vsv.waits);
	spin_unlock_irqrestore(&vsv.wait_lock, flags);
	return ret;
}

/* post_err: the result of posting the request; the wait is skipped if non-zero. */
int vsv_wait_end(struct vsv_wait *w, int post_err)
{
	unsigned long flags;
	int ret = post_err;

	if (!ret) {
		if (wait_for_completion_timeout(&w->done, msecs_to_jiffies(vsv_timeout_ms)))
			return w->err;
		ret = vsv_check_host() ? -ETIMEDOUT : -ENODEV;
	}

	spin_lock_irqsave(&vsv.wait_lock, flags);
	if (list_empty(&w->node)) {
		/* Answered or failed between the time-out and the lock. */
		spin_unlock_irqrestore(&vsv.wait_lock, flags);
		wait_for_completion(&w->done);
		return post_err ? post_err : w->err;
	}
	list_del_init(&w->node);
	spin_unlock_irqrestore(&vsv.wait_lock, flags);
	return ret;
}

int vsv_post_and_wait(struct vsv_wait *w, const void *msg, u32 size)
{
	int ret;

	ret = vsv_wait_begin(w);
	if (ret)
		return ret;
	return vsv_wait_end(w, vsv_post_msg(msg, size));
}

void vsv_fail_channel_waits(struct vmbus_channel *channel)
{
	struct vsv_wait *w, *tmp;
	unsigned long flags;

	spin_lock_irqsave(&vsv.wait_lock, flags);
	list_for_each_entry_safe(w, tmp, &vsv.waits, node)
		if (w->channel == channel)
			vsv_wait_finish(w, -ENODEV);
	spin_unlock_irqrestore(&vsv.wait_lock, flags);
}

void vsv_fail_all_waits(void)
{
	struct vsv_wait *w, *tmp;
	unsigned long flags;

	spin_lock_irqsave(&vsv.wait_lock, flags);
	list_for_each_entry_safe(w, tmp, &vsv.waits, node)
		vsv_wait_finish(w, -ENODEV);
	spin_unlock_irqrestore(&vsv.wait_lock, flags);
}

/* The keys that tie a reply to its request. */
static void vsv_reply_keys(u32 type, const void *msg, u32 *key1, u32 *key2)
{
	const struct vmbus_channel_open_result *open = msg;
	const struct vmbus_channel_gpadl_created *created = msg;
	const struct vmbus_channel_gpadl_torndown *torndown = msg;

	*key1 = 0;
	*key2 = 0;
	switch (type) {
	case CHANNELMSG_OPENCHANNEL_RESULT:
		*key1 = open->child_relid;
		*key2 = open->openid;
		break;
	case CHANNELMSG_GPADL_CREATED:
		*key1 = created->child_relid;
		*key2 = created->gpadl;
		break;
	case CHANNELMSG_GPADL_TORNDOWN:
		*key1 = torndown->gpadl;
		break;
	default:
		break;
	}
}

static void vsv_complete_reply(u32 type, const void *msg, u32 size)
{
	struct vsv_wait *w;
	unsigned long flags;
	bool found = false;
	u32 key1, key2;

	vsv_reply_keys(type, msg, &key1, &key2);
	spin_lock_irqsave(&vsv.wait_lock, flags);
	list_for_each_entry(w, &vsv.waits, node) {
		if (w->reply_type != type || w->key1 != key1 || w->key2 != key2)
			continue;
		memcpy(w->reply, msg, size);
		w->reply_size = size;
		vsv_wait_finish(w, 0);
		found = true;
		break;
	}
	spin_unlock_irqrestore(&vsv.wait_lock, flags);
	if (!found)
		pr_warn_ratelimited("vscsim_vmbus: reply %u (%u/%u) matches no request; ignored\n",
				    type, key1, key2);
}

/* ---- messages handled in process context ---- */

struct vsv_ctl_work {
	struct work_struct work;
	u32 size;
	u8 msg[VSV_MSG_MAX];
};

static void vsv_ctl_work_fn(struct work_struct *work)
{
	struct vsv_ctl_work *cw = container_of(work, struct vsv_ctl_work, work);
	const struct vmbus_channel_message_header *hdr = (const void *)cw->msg;

	switch (hdr->msgtype) {
	case CHANNELMSG_OFFERCHANNEL:
		vsv_handle_offer((const void *)cw->msg);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		vsv_handle_rescind(((const struct vmbus_channel_rescind_offer *)hdr)->child_relid);
		break;
	case CHANNELMSG_ALLOFFERS_DELIVERED:
		complete_all(&vsv.offers_delivered);
		break;
	default:
		break;
	}
	kfree(cw);
}

static void vsv_queue_ctl(const void *msg, u32 size)
{
	struct vsv_ctl_work *cw;

	/* On failure the message is lost, as with hv_vmbus; the allocator warns. */
	cw = kzalloc(sizeof(*cw), GFP_ATOMIC);
	if (!cw)
		return;
	INIT_WORK(&cw->work, vsv_ctl_work_fn);
	cw->size = size;
	memcpy(cw->msg, msg, size);
	queue_work(vsv.ctl_wq, &cw->work);
}

/* Minimum sizes of the messages the host may send. */
static u32 vsv_min_size(u32 type)
{
	switch (type) {
	case CHANNELMSG_OFFERCHANNEL:
		return sizeof(struct vmbus_channel_offer_channel);
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		return sizeof(struct vmbus_channel_rescind_offer);
	case CHANNELMSG_ALLOFFERS_DELIVERED:
	case CHANNELMSG_UNLOAD_RESPONSE:
		return sizeof(struct vmbus_channel_message_header);
	case CHANNELMSG_OPENCHANNEL_RESULT:
		return sizeof(struct vmbus_channel_open_result);
	case CHANNELMSG_GPADL_CREATED:
		return sizeof(struct vmbus_channel_gpadl_created);
	case CHANNELMSG_GPADL_TORNDOWN:
		return sizeof(struct vmbus_channel_gpadl_torndown);
	case CHANNELMSG_VERSION_RESPONSE:
		return sizeof(struct vmbus_channel_version_response);
	default:
		return 0;
	}
}

/*
 * One message from the host-to-guest mailbox, in softirq context. msg is the
 * tasklet's private copy of the slot; size was checked to be 8..240.
 */
void vsv_dispatch_msg(const void *msg, u32 size)
{
	const struct vmbus_channel_message_header *hdr = msg;
	u32 type = hdr->msgtype;
	u32 min = vsv_min_size(type);

	if (!min) {
		pr_warn_ratelimited("vscsim_vmbus: unexpected message type %u from the host; ignored\n",
				    type);
		return;
	}
	if (size < min) {
		pr_warn_ratelimited("vscsim_vmbus: message type %u is %u bytes, needs %u; ignored\n",
				    type, size, min);
		return;
	}

	switch (type) {
	case CHANNELMSG_OFFERCHANNEL:
	case CHANNELMSG_ALLOFFERS_DELIVERED:
		vsv_queue_ctl(msg, size);
		break;
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		/* Fail the channel's waiters now; the rest runs in process context. */
		vsv_rescind_early(((const struct vmbus_channel_rescind_offer *)msg)->child_relid);
		vsv_queue_ctl(msg, size);
		break;
	default:
		vsv_complete_reply(type, msg, size);
		break;
	}
}

/* ---- host gone ---- */

static void vsv_gone_work_fn(struct work_struct *work)
{
	vsv_fail_all_channels();
}

/* Called once, from any context but hard irq, when the transport fails. */
void vsv_host_went_away(void)
{
	vsv_fail_all_waits();
	complete_all(&vsv.offers_delivered);
	queue_work(vsv.ctl_wq, &vsv_gone_work);
}

/* ---- connect and disconnect ---- */

static int vsv_negotiate(u32 version)
{
	struct vmbus_channel_initiate_contact msg = {};
	const struct vmbus_channel_version_response *resp;
	struct vsv_wait *w;
	int ret;

	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	msg.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	msg.vmbus_version_requested = version;
	msg.target_vcpu = 0;
	/* No interrupt or monitor pages exist in this transport. */
	if (version >= VERSION_WIN10_V5)
		msg.msg_sint = VSV_MESSAGE_SINT;

	vsv_wait_init(w, CHANNELMSG_VERSION_RESPONSE, 0, 0, NULL);
	ret = vsv_post_and_wait(w, &msg, sizeof(msg));
	if (!ret) {
		resp = (const void *)w->reply;
		ret = resp->version_supported ? 0 : -EPROTONOSUPPORT;
	}
	kfree(w);
	return ret;
}

int vsv_connect(void)
{
	struct vmbus_channel_message_header req = {
		.msgtype = CHANNELMSG_REQUESTOFFERS,
	};
	unsigned int i;
	int ret = -EPROTONOSUPPORT;

	WRITE_ONCE(vsv.unloading, false);
	for (i = 0; i < ARRAY_SIZE(vsv_versions); i++) {
		ret = vsv_negotiate(vsv_versions[i]);
		if (ret != -EPROTONOSUPPORT)
			break;
	}
	if (ret == -ETIMEDOUT) {
		dev_err(vsv.parent, "host did not answer INITIATE_CONTACT within %u ms\n",
			vsv_timeout_ms);
		return ret;
	}
	if (ret) {
		dev_err(vsv.parent, "VMBus version negotiation failed: %d\n", ret);
		return ret;
	}
	vmbus_proto_version = vsv_versions[i];
	dev_dbg(vsv.parent, "VMBus protocol %u.%u\n", vmbus_proto_version >> 16,
		vmbus_proto_version & 0xffff);

	reinit_completion(&vsv.offers_delivered);
	ret = vsv_post_msg(&req, sizeof(req));
	if (ret) {
		dev_err(vsv.parent, "cannot request offers: %d\n", ret);
		return ret;
	}
	/* Not fatal: offers that come later are handled all the same. */
	if (!wait_for_completion_timeout(&vsv.offers_delivered,
					 msecs_to_jiffies(vsv_timeout_ms)))
		dev_warn(vsv.parent, "no ALLOFFERS_DELIVERED within %u ms\n", vsv_timeout_ms);
	return 0;
}

void vsv_disconnect(void)
{
	struct vmbus_channel_message_header msg = {
		.msgtype = CHANNELMSG_UNLOAD,
	};
	struct vsv_wait *w;
	int ret;

	mutex_lock(&vsv.chan_mutex);
	WRITE_ONCE(vsv.unloading, true);
	mutex_unlock(&vsv.chan_mutex);
	flush_workqueue(vsv.ctl_wq);
	vsv_remove_all_channels();
	flush_workqueue(vsv.remove_wq);

	if (vsv_host_gone())
		return;
	w = kmalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return;
	vsv_wait_init(w, CHANNELMSG_UNLOAD_RESPONSE, 0, 0, NULL);
	ret = vsv_post_and_wait(w, &msg, sizeof(msg));
	if (ret)
		dev_warn(vsv.parent, "no UNLOAD_RESPONSE from the host: %d\n", ret);
	kfree(w);
}
