// SPDX-License-Identifier: GPL-2.0
/*
 * Channel management: an OFFERCHANNEL creates a channel and its hv_device; a
 * RESCIND_CHANNELOFFER (or the host going away) stops the channel's callback,
 * fails its sends and waits, and unregisters the device from a work item so
 * the driver's remove runs; then RELID_RELEASED tells the host the relid is
 * free again.
 *
 * Lifetime: a channel is in vsv.channels (chan_mutex) and vsv.relid_map
 * (chan_lock, read in hard irq) from its offer until its teardown. A channel
 * with an hv_device is freed by the device's release; one without is freed
 * by its teardown.
 *
 * Channel states (enum vmbus_channel_state, as hv_vmbus uses them):
 *   CHANNEL_OPEN_STATE     offered, closed: vmbus_open may start
 *   CHANNEL_OPENING_STATE  vmbus_open is waiting for OPENCHANNEL_RESULT
 *   CHANNEL_OPENED_STATE   open: rings in use
 * Rescind is a flag on top of any state (channel->rescind).
 */
#include <linux/slab.h>
#include <linux/uuid.h>

#include "vmbus_priv.h"

/* Instance of the Azure Blob device's companion virtual-PCI channel: ignored. */
static const guid_t vsv_blob_vpci_instance =
	GUID_INIT(0xd4573da2, 0x2caa, 0x4711,
		  0xa8, 0xf9, 0xbb, 0xab, 0xf4, 0xee, 0x96, 0x85);

static const struct {
	guid_t guid;
	u16 type;
} vsv_dev_types[] = {
	{ HV_IDE_GUID, HV_IDE },
	{ HV_SCSI_GUID, HV_SCSI },
	{ HV_SYNTHFC_GUID, HV_FC },
	{ HV_NIC_GUID, HV_NIC },
	{ HV_ND_GUID, HV_ND },
	{ HV_PCIE_GUID, HV_PCIE },
	{ HV_SYNTHVID_GUID, HV_FB },
	{ HV_KBD_GUID, HV_KBD },
	{ HV_MOUSE_GUID, HV_MOUSE },
	{ HV_KVP_GUID, HV_KVP },
	{ HV_TS_GUID, HV_TS },
	{ HV_HEART_BEAT_GUID, HV_HB },
	{ HV_SHUTDOWN_GUID, HV_SHUTDOWN },
	{ HV_FCOPY_GUID, HV_FCOPY },
	{ HV_VSS_GUID, HV_BACKUP },
	{ HV_DM_GUID, HV_DM },
};

static u16 vsv_dev_type(const guid_t *if_type)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vsv_dev_types); i++)
		if (guid_equal(if_type, &vsv_dev_types[i].guid))
			return vsv_dev_types[i].type;
	return HV_UNKNOWN;
}

/* Hard irq: the host set channel relid's event bit. */
void vsv_schedule_channel(u32 relid)
{
	struct vmbus_channel *ch;

	spin_lock(&vsv.chan_lock);
	ch = relid < VSV_EVENT_BITS ? vsv.relid_map[relid] : NULL;
	if (!ch) {
		spin_unlock(&vsv.chan_lock);
		pr_debug_ratelimited("vscsim_vmbus: event for relid %u, no such channel\n", relid);
		return;
	}
	spin_lock(&ch->sched_lock);
	if (ch->onchannel_callback) {
		ch->interrupts++;
		switch (ch->callback_mode) {
		case HV_CALL_ISR:
			ch->onchannel_callback(ch->channel_callback_context);
			break;
		case HV_CALL_BATCHED:
			hv_begin_read(&ch->inbound);
			fallthrough;
		case HV_CALL_DIRECT:
			tasklet_schedule(&ch->callback_event);
			break;
		}
	}
	spin_unlock(&ch->sched_lock);
	spin_unlock(&vsv.chan_lock);
}

static void vsv_map_relid(struct vmbus_channel *ch)
{
	unsigned long flags;

	spin_lock_irqsave(&vsv.chan_lock, flags);
	vsv.relid_map[ch->offermsg.child_relid] = ch;
	to_vsv_channel(ch)->mapped = true;
	spin_unlock_irqrestore(&vsv.chan_lock, flags);
}

static void vsv_unmap_relid(struct vmbus_channel *ch)
{
	unsigned long flags;

	spin_lock_irqsave(&vsv.chan_lock, flags);
	if (to_vsv_channel(ch)->mapped) {
		vsv.relid_map[ch->offermsg.child_relid] = NULL;
		to_vsv_channel(ch)->mapped = false;
	}
	spin_unlock_irqrestore(&vsv.chan_lock, flags);
}

/* Must hold chan_mutex. */
static struct vmbus_channel *vsv_find_channel(u32 relid)
{
	struct vmbus_channel *ch;

	list_for_each_entry(ch, &vsv.channels, listentry)
		if (ch->offermsg.child_relid == relid)
			return ch;
	return NULL;
}

static void vsv_release_relid(u32 relid)
{
	struct vmbus_channel_relid_released msg = {
		.header.msgtype = CHANNELMSG_RELID_RELEASED,
		.child_relid = relid,
	};
	int ret;

	if (vsv_host_gone())
		return;
	ret = vsv_post_msg(&msg, sizeof(msg));
	if (ret)
		pr_warn_ratelimited("vscsim_vmbus: RELID_RELEASED for %u not sent: %d\n",
				    relid, ret);
}

void vsv_channel_free(struct vmbus_channel *ch)
{
	if (ch->state == CHANNEL_OPENED_STATE)
		pr_warn_ratelimited("vscsim_vmbus: relid %u freed while open; ring leaked\n",
				    ch->offermsg.child_relid);
	else
		vmbus_free_ring(ch);
	kfree(ch->requestor.req_arr);
	bitmap_free(ch->requestor.req_bitmap);
	kfree(to_vsv_channel(ch));
}

/*
 * Unregisters the device (the driver's remove runs and closes the channel),
 * forgets the relid and, if asked, releases it to the host. The caller has
 * taken the channel off vsv.channels.
 */
static void vsv_channel_teardown(struct vmbus_channel *ch, bool release_relid)
{
	struct hv_device *hdev = ch->device_obj;
	u32 relid = ch->offermsg.child_relid;

	if (hdev) {
		get_device(&hdev->device);
		vsv_device_remove(ch);
	}
	vsv_reset_channel_cb(ch);
	vsv_unmap_relid(ch);
	tasklet_kill(&ch->callback_event);
	if (release_relid)
		vsv_release_relid(relid);
	if (hdev)
		put_device(&hdev->device);	/* its release frees the channel */
	else
		vsv_channel_free(ch);
}

static void vsv_channel_remove_work(struct work_struct *work)
{
	struct vsv_channel *vc = container_of(work, struct vsv_channel, remove_work);
	struct vmbus_channel *ch = &vc->ch;

	mutex_lock(&vsv.chan_mutex);
	if (list_empty(&ch->listentry)) {
		/* vsv_remove_all_channels() took it. */
		mutex_unlock(&vsv.chan_mutex);
		return;
	}
	list_del_init(&ch->listentry);
	mutex_unlock(&vsv.chan_mutex);
	vsv_channel_teardown(ch, true);
}

static struct vmbus_channel *vsv_channel_alloc(const struct vmbus_channel_offer_channel *offer)
{
	struct vsv_channel *vc;
	struct vmbus_channel *ch;

	vc = kzalloc(sizeof(*vc), GFP_KERNEL);
	if (!vc)
		return NULL;
	ch = &vc->ch;
	INIT_WORK(&vc->remove_work, vsv_channel_remove_work);
	INIT_LIST_HEAD(&ch->listentry);
	INIT_LIST_HEAD(&ch->sc_list);
	memcpy(&ch->offermsg, offer, sizeof(*offer));
	ch->state = CHANNEL_OPEN_STATE;
	ch->monitor_grp = offer->monitorid / 32;
	ch->monitor_bit = offer->monitorid % 32;
	ch->is_dedicated_interrupt = offer->is_dedicated_interrupt;
	ch->sig_event = offer->connection_id;
	ch->callback_mode = HV_CALL_BATCHED;
	ch->target_cpu = 0;
	ch->max_pkt_size = VMBUS_DEFAULT_MAX_PKT_SIZE;
	ch->device_id = vsv_dev_type(&offer->offer.if_type);
	init_completion(&ch->rescind_event);
	spin_lock_init(&ch->sched_lock);
	spin_lock_init(&ch->inbound.ring_lock);
	spin_lock_init(&ch->outbound.ring_lock);
	mutex_init(&ch->inbound.ring_buffer_mutex);
	mutex_init(&ch->outbound.ring_buffer_mutex);
	spin_lock_init(&ch->requestor.req_lock);
	tasklet_setup(&ch->callback_event, vsv_channel_tasklet);
	return ch;
}

/* Process context (ctl_wq): one OFFERCHANNEL. */
void vsv_handle_offer(const struct vmbus_channel_offer_channel *offer)
{
	u32 relid = offer->child_relid;
	struct vmbus_channel *ch;

	if (relid >= VSV_EVENT_BITS) {
		pr_warn_ratelimited("vscsim_vmbus: offer with relid %u out of range; ignored\n",
				    relid);
		return;
	}

	mutex_lock(&vsv.chan_mutex);
	if (READ_ONCE(vsv.unloading))
		goto out_unlock;
	if (vsv_find_channel(relid) || test_bit(relid, vsv.ignored_relids)) {
		pr_warn_ratelimited("vscsim_vmbus: offer for relid %u, already in use; ignored\n",
				    relid);
		goto out_unlock;
	}
	if (guid_equal(&offer->offer.if_instance, &vsv_blob_vpci_instance) ||
	    is_hvsock_offer(offer) || offer->offer.sub_channel_index) {
		/* Not ours to drive: remember it so a rescind can release it. */
		dev_dbg(vsv.parent, "relid %u (%pUl) ignored\n", relid,
			&offer->offer.if_instance);
		set_bit(relid, vsv.ignored_relids);
		goto out_unlock;
	}

	ch = vsv_channel_alloc(offer);
	if (!ch) {
		pr_err_ratelimited("vscsim_vmbus: no memory for relid %u\n", relid);
		set_bit(relid, vsv.ignored_relids);
		goto out_unlock;
	}
	list_add_tail(&ch->listentry, &vsv.channels);
	vsv_map_relid(ch);
	if (vsv_device_add(ch)) {
		list_del_init(&ch->listentry);
		vsv_unmap_relid(ch);
		vsv_channel_free(ch);
		set_bit(relid, vsv.ignored_relids);
	}

out_unlock:
	mutex_unlock(&vsv.chan_mutex);
}

/* Softirq: the rescind's first half, before it waits its turn on ctl_wq. */
void vsv_rescind_early(u32 relid)
{
	struct vmbus_channel *ch;
	unsigned long flags;

	if (relid >= VSV_EVENT_BITS)
		return;
	spin_lock_irqsave(&vsv.chan_lock, flags);
	ch = vsv.relid_map[relid];
	if (ch) {
		WRITE_ONCE(ch->rescind, true);
		vsv_fail_channel_waits(ch);
	}
	spin_unlock_irqrestore(&vsv.chan_lock, flags);
}

/* Must hold chan_mutex. */
static void vsv_rescind_locked(struct vmbus_channel *ch)
{
	WRITE_ONCE(ch->rescind, true);
	vsv_fail_channel_waits(ch);
	vsv_reset_channel_cb(ch);
	complete_all(&ch->rescind_event);
	if (ch->chn_rescind_callback)
		ch->chn_rescind_callback(ch);
	queue_work(vsv.remove_wq, &to_vsv_channel(ch)->remove_work);
}

/* Process context (ctl_wq): one RESCIND_CHANNELOFFER. */
void vsv_handle_rescind(u32 relid)
{
	struct vmbus_channel *ch;
	bool ignored = false;

	if (relid >= VSV_EVENT_BITS) {
		pr_warn_ratelimited("vscsim_vmbus: rescind of relid %u out of range\n", relid);
		return;
	}
	mutex_lock(&vsv.chan_mutex);
	ch = vsv_find_channel(relid);
	if (ch)
		vsv_rescind_locked(ch);
	else
		ignored = test_and_clear_bit(relid, vsv.ignored_relids);
	mutex_unlock(&vsv.chan_mutex);

	if (ignored)
		vsv_release_relid(relid);
	else if (!ch)
		pr_warn_ratelimited("vscsim_vmbus: rescind of unknown relid %u\n", relid);
}

/* Process context (ctl_wq): the host is gone; every channel is rescinded. */
void vsv_fail_all_channels(void)
{
	struct vmbus_channel *ch;

	mutex_lock(&vsv.chan_mutex);
	list_for_each_entry(ch, &vsv.channels, listentry)
		if (!work_pending(&to_vsv_channel(ch)->remove_work))
			vsv_rescind_locked(ch);
	bitmap_zero(vsv.ignored_relids, VSV_EVENT_BITS);
	mutex_unlock(&vsv.chan_mutex);
}

/* Unload: every device goes; the host is told by UNLOAD, not per relid. */
void vsv_remove_all_channels(void)
{
	struct vmbus_channel *ch;

	for (;;) {
		mutex_lock(&vsv.chan_mutex);
		ch = list_first_entry_or_null(&vsv.channels, struct vmbus_channel, listentry);
		if (ch)
			list_del_init(&ch->listentry);
		else
			bitmap_zero(vsv.ignored_relids, VSV_EVENT_BITS);
		mutex_unlock(&vsv.chan_mutex);
		if (!ch)
			break;
		/* A queued removal finds the channel off the list and returns. */
		cancel_work_sync(&to_vsv_channel(ch)->remove_work);
		vsv_channel_teardown(ch, false);
	}
}
