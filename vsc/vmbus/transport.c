// SPDX-License-Identifier: GPL-2.0
/*
 * The paravirtual VMBus transport: the ivshmem-doorbell PCI device whose BAR2
 * holds two control mailboxes (the SynIC message page's role) and two event
 * bitmaps (the event-flag page's role), with doorbells for the signals. The
 * protocol is docs/transport.md; section numbers below refer to it.
 *
 * Memory ordering of the mailboxes (4.2); each fence is tagged with its letter:
 *
 *   producer                          consumer
 *   [A] tail = load_acquire(tail)     [C] head = load_acquire(head)
 *       copy slot in                      copy slot out
 *   [B] store_release(head)           [D] store_release(tail)
 *   full: waiting = 1; [E] smp_mb();  [F] smp_mb();
 *         load tail again                 if (xchg(waiting, 0)) ring
 *
 * [A]/[D]: the consumer finished copying a slot before the producer reuses it.
 * [B]/[C]: a slot's contents are visible before the head that publishes it.
 * [E]/[F]: either the producer sees the freed slot or the consumer sees the
 *          waiting flag and rings; a wake-up is never lost.
 */
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "vmbus_priv.h"

#define VSV_LIVENESS_PERIOD_MS	500
#define VSV_HEARTBEAT_STALE_MS	2000

static struct vsv_transport *vsv_tp(void)
{
	return READ_ONCE(vsv.tp);
}

static void vsv_doorbell(struct vsv_transport *tp, u32 vector)
{
	iowrite32((tp->host_peer << 16) | vector, tp->regs + VSV_REG_DOORBELL);
}

/* The transport is unusable from now on; fail everything waiting on it. */
static void vsv_transport_fail(struct vsv_transport *tp, const char *why)
{
	if (test_and_set_bit(VSV_TP_GONE, &tp->flags))
		return;
	dev_warn(&tp->pdev->dev, "host gone (%s): failing every channel\n", why);
	wake_up_all(&tp->space_wq);
	vsv_host_went_away();
}

static void vsv_mailbox_corrupt(struct vsv_transport *tp, const char *why)
{
	set_bit(VSV_TP_BROKEN, &tp->flags);
	vsv_transport_fail(tp, why);
}

bool vsv_host_gone(void)
{
	struct vsv_transport *tp = vsv_tp();

	return !tp || test_bit(VSV_TP_GONE, &tp->flags);
}

/*
 * Looks at host_state, generation and heartbeat (section 7). Returns true if
 * the host still looks alive; otherwise fails the transport once.
 */
bool vsv_check_host(void)
{
	struct vsv_transport *tp = vsv_tp();
	const char *why = NULL;
	unsigned long flags;
	u32 state, generation;
	bool stale;
	u64 beat;

	if (!tp || test_bit(VSV_TP_GONE, &tp->flags))
		return false;

	/* Acquire: fields the host wrote before host_state are seen with it. */
	state = smp_load_acquire(&tp->hdr->host_state);
	generation = READ_ONCE(tp->hdr->generation);
	beat = READ_ONCE(tp->hdr->heartbeat);

	spin_lock_irqsave(&tp->live_lock, flags);
	if (beat != tp->heartbeat) {
		tp->heartbeat = beat;
		tp->heartbeat_jiffies = jiffies;
	}
	stale = time_after(jiffies, tp->heartbeat_jiffies +
			   msecs_to_jiffies(VSV_HEARTBEAT_STALE_MS));
	spin_unlock_irqrestore(&tp->live_lock, flags);

	if (state == VSV_HOST_STOPPED)
		why = "host stopped";
	else if (generation != tp->generation)
		why = "host reset the session";
	else if (state != VSV_HOST_RUNNING)
		why = "host state unknown";
	else if (stale)
		why = "heartbeat stopped";
	if (!why)
		return true;
	vsv_transport_fail(tp, why);
	return false;
}

static void vsv_liveness_timer(struct timer_list *t)
{
	struct vsv_transport *tp = from_timer(tp, t, liveness_timer);

	if (!vsv_check_host() || test_bit(VSV_TP_STOPPING, &tp->flags))
		return;
	mod_timer(&tp->liveness_timer,
		  jiffies + msecs_to_jiffies(VSV_LIVENESS_PERIOD_MS));
}

/* ---- guest-to-host mailbox: the guest produces ---- */

/* 1: a slot is free; 0: full (producer_waiting set); <0: corrupt. */
static int vsv_g2h_space(struct vsv_transport *tp)
{
	struct vsv_mbox_ctl *ctl = tp->g2h_ctl;
	u32 used;

	used = tp->g2h_head - smp_load_acquire(&ctl->tail);	/* [A] */
	if (used > VSV_SLOT_COUNT)
		goto corrupt;
	if (used < VSV_SLOT_COUNT)
		return 1;

	WRITE_ONCE(ctl->producer_waiting, 1);
	smp_mb();						/* [E] */
	used = tp->g2h_head - smp_load_acquire(&ctl->tail);	/* [A] */
	if (used > VSV_SLOT_COUNT)
		goto corrupt;
	return used < VSV_SLOT_COUNT;

corrupt:
	vsv_mailbox_corrupt(tp, "guest-to-host tail out of range");
	return -EIO;
}

static bool vsv_g2h_ready(struct vsv_transport *tp)
{
	return test_bit(VSV_TP_GONE, &tp->flags) || vsv_g2h_space(tp) != 0;
}

/*
 * Posts one channel message (a vmbus_channel_message_header and its body) to
 * the host and rings vector 0. Sleeps while the mailbox is full, at most
 * vsv_timeout_ms. Process context only.
 */
int vsv_post_msg(const void *msg, u32 size)
{
	struct vsv_transport *tp = vsv_tp();
	struct vsv_slot slot = {};
	long left;
	int ret;

	might_sleep();
	if (!tp)
		return -ENODEV;
	if (WARN_ON_ONCE(size < VSV_MSG_MIN || size > VSV_MSG_MAX))
		return -EINVAL;

	mutex_lock(&tp->post_lock);
	for (;;) {
		if (test_bit(VSV_TP_GONE, &tp->flags)) {
			ret = -ENODEV;
			goto out_unlock;
		}
		ret = vsv_g2h_space(tp);
		if (ret > 0)
			break;
		if (ret < 0)
			goto out_unlock;
		left = wait_event_timeout(tp->space_wq, vsv_g2h_ready(tp),
					  msecs_to_jiffies(vsv_timeout_ms));
		if (!left) {
			ret = vsv_check_host() ? -ETIMEDOUT : -ENODEV;
			goto out_unlock;
		}
	}

	slot.size = size;
	slot.index = tp->g2h_head;
	memcpy(slot.payload, msg, size);
	memcpy(&tp->g2h_slots[tp->g2h_head % VSV_SLOT_COUNT], &slot, sizeof(slot));
	tp->g2h_head++;
	smp_store_release(&tp->g2h_ctl->head, tp->g2h_head);	/* [B] */
	vsv_doorbell(tp, VSV_VEC_CONTROL);
	ret = 0;

out_unlock:
	mutex_unlock(&tp->post_lock);
	return ret;
}

/* ---- host-to-guest mailbox: the guest consumes ---- */

static void vsv_msg_tasklet(struct tasklet_struct *t)
{
	struct vsv_transport *tp = from_tasklet(tp, t, msg_tasklet);
	struct vsv_mbox_ctl *ctl = tp->h2g_ctl;
	u32 head, tail = tp->h2g_tail;
	unsigned int taken = 0;
	struct vsv_slot slot;

	if (test_bit(VSV_TP_GONE, &tp->flags))
		return;

	head = smp_load_acquire(&ctl->head);			/* [C] */
	if (head - tail > VSV_SLOT_COUNT) {
		vsv_mailbox_corrupt(tp, "host-to-guest head out of range");
		return;
	}

	while (tail != head && taken < VSV_SLOT_COUNT) {
		/* One copy of the slot; only the copy is validated and used. */
		memcpy(&slot, &tp->h2g_slots[tail % VSV_SLOT_COUNT], sizeof(slot));
		if (slot.size < VSV_MSG_MIN || slot.size > VSV_MSG_MAX ||
		    slot.index != tail) {
			vsv_mailbox_corrupt(tp, "malformed host-to-guest slot");
			return;
		}
		tail++;
		taken++;
		vsv_dispatch_msg(slot.payload, slot.size);
	}
	if (!taken)
		return;

	tp->h2g_tail = tail;
	smp_store_release(&ctl->tail, tail);			/* [D] */
	smp_mb();						/* [F] */
	if (xchg(&ctl->producer_waiting, 0))
		vsv_doorbell(tp, VSV_VEC_CONTROL);
	if (tail != head)
		tasklet_schedule(&tp->msg_tasklet);	/* bounded: go again later */
}

/* ---- event bitmaps (4.4) ---- */

void vsv_signal_channel(u32 relid)
{
	struct vsv_transport *tp = vsv_tp();

	if (!tp || test_bit(VSV_TP_GONE, &tp->flags) || relid >= VSV_EVENT_BITS)
		return;
	set_bit(relid, tp->g2h_events);
	/* The ring update and the bit are visible before the doorbell. */
	smp_mb__after_atomic();
	vsv_doorbell(tp, VSV_VEC_CHANNEL);
}

static void vsv_scan_events(struct vsv_transport *tp)
{
	unsigned long bits;
	unsigned int w, b;

	if (test_bit(VSV_TP_GONE, &tp->flags))
		return;
	for (w = 0; w < VSV_EVENT_WORDS; w++) {
		if (!READ_ONCE(tp->h2g_events[w]))
			continue;
		bits = xchg(&tp->h2g_events[w], 0);
		for_each_set_bit(b, &bits, BITS_PER_LONG)
			vsv_schedule_channel(w * BITS_PER_LONG + b);
	}
}

static irqreturn_t vsv_control_irq(int irq, void *data)
{
	struct vsv_transport *tp = data;

	wake_up(&tp->space_wq);
	tasklet_schedule(&tp->msg_tasklet);
	return IRQ_HANDLED;
}

static irqreturn_t vsv_channel_irq(int irq, void *data)
{
	vsv_scan_events(data);
	return IRQ_HANDLED;
}

/* ---- attach ---- */

#define VSV_HDR_OFF(field) offsetof(struct vsv_shm_header, field)

/* Header fields whose value layout version 1 fixes. */
static const struct {
	const char *name;
	unsigned int offset;
	unsigned int size;
	u64 value;
} vsv_fixed_fields[] = {
	{ "layout_version", VSV_HDR_OFF(layout_version), 4, VSV_LAYOUT_VERSION },
	{ "header_size", VSV_HDR_OFF(header_size), 4, VSV_HEADER_SIZE },
	{ "vectors", VSV_HDR_OFF(vectors), 4, VSV_VECTORS },
	{ "slot_size", VSV_HDR_OFF(slot_size), 4, VSV_SLOT_SIZE },
	{ "slot_count", VSV_HDR_OFF(slot_count), 4, VSV_SLOT_COUNT },
	{ "event_bits", VSV_HDR_OFF(event_bits), 4, VSV_EVENT_BITS },
	{ "h2g_control_offset", VSV_HDR_OFF(h2g_control_offset), 8, VSV_H2G_CTL_OFF },
	{ "g2h_control_offset", VSV_HDR_OFF(g2h_control_offset), 8, VSV_G2H_CTL_OFF },
	{ "h2g_slots_offset", VSV_HDR_OFF(h2g_slots_offset), 8, VSV_H2G_SLOTS_OFF },
	{ "g2h_slots_offset", VSV_HDR_OFF(g2h_slots_offset), 8, VSV_G2H_SLOTS_OFF },
	{ "h2g_events_offset", VSV_HDR_OFF(h2g_events_offset), 8, VSV_H2G_EVENTS_OFF },
	{ "g2h_events_offset", VSV_HDR_OFF(g2h_events_offset), 8, VSV_G2H_EVENTS_OFF },
};

static int vsv_check_fixed_fields(struct device *dev, const void *hdr)
{
	unsigned int i;
	u64 got;

	for (i = 0; i < ARRAY_SIZE(vsv_fixed_fields); i++) {
		const void *p = hdr + vsv_fixed_fields[i].offset;

		got = vsv_fixed_fields[i].size == sizeof(u64) ?
		      READ_ONCE(*(const u64 *)p) : READ_ONCE(*(const u32 *)p);
		if (got != vsv_fixed_fields[i].value) {
			dev_err(dev, "BAR2 header: %s is %#llx, layout 1 needs %#llx\n",
				vsv_fixed_fields[i].name, got, vsv_fixed_fields[i].value);
			return -EPROTO;
		}
	}
	return 0;
}

/* Checks the BAR2 header against layout version 1 (section 4, 5.2). */
static int vsv_check_layout(struct vsv_transport *tp, u64 bar_len)
{
	struct vsv_shm_header *h = tp->shm;
	struct device *dev = &tp->pdev->dev;
	u32 state, guest, ivpos;
	u64 region;

	if (READ_ONCE(h->magic) != VSV_MAGIC) {
		dev_info(dev, "BAR2 holds no vscsim VMBus region\n");
		return -ENODEV;
	}
	if (vsv_check_fixed_fields(dev, h))
		return -EPROTO;

	region = READ_ONCE(h->region_size);
	if (!is_power_of_2(region) || region < VSV_REGION_MIN ||
	    region > VSV_REGION_MAX || region > bar_len) {
		dev_err(dev, "BAR2 header: region_size %#llx invalid for a %#llx-byte BAR\n",
			region, bar_len);
		return -EPROTO;
	}
	tp->host_peer = READ_ONCE(h->host_peer_id);
	if (tp->host_peer > 0xffff) {
		dev_err(dev, "BAR2 header: host_peer_id %u out of range\n", tp->host_peer);
		return -EPROTO;
	}

	/* Acquire: the host publishes guest_peer_id and generation before Running. */
	state = smp_load_acquire(&h->host_state);
	if (state != VSV_HOST_RUNNING) {
		dev_err(dev, "host is not running (host_state %u)\n", state);
		return -ENODEV;
	}
	guest = READ_ONCE(h->guest_peer_id);
	ivpos = ioread32(tp->regs + VSV_REG_IVPOSITION);
	if (guest != ivpos || guest == tp->host_peer) {
		dev_err(dev, "BAR2 serves peer %#x; this device is peer %#x\n", guest, ivpos);
		return -EBUSY;
	}

	tp->generation = READ_ONCE(h->generation);
	tp->heartbeat = READ_ONCE(h->heartbeat);
	tp->heartbeat_jiffies = jiffies;
	tp->shm_size = region;
	tp->hdr = h;
	tp->h2g_ctl = tp->shm + VSV_H2G_CTL_OFF;
	tp->g2h_ctl = tp->shm + VSV_G2H_CTL_OFF;
	tp->h2g_slots = tp->shm + VSV_H2G_SLOTS_OFF;
	tp->g2h_slots = tp->shm + VSV_G2H_SLOTS_OFF;
	tp->h2g_events = tp->shm + VSV_H2G_EVENTS_OFF;
	tp->g2h_events = tp->shm + VSV_G2H_EVENTS_OFF;
	return 0;
}

/* Start-up step 3: drop what a previous instance left, adopt the indices. */
static int vsv_adopt_mailboxes(struct vsv_transport *tp)
{
	u32 head, tail;

	head = smp_load_acquire(&tp->h2g_ctl->head);		/* [C] */
	tail = READ_ONCE(tp->h2g_ctl->tail);
	if (head - tail > VSV_SLOT_COUNT)
		goto corrupt;
	tp->h2g_tail = head;
	smp_store_release(&tp->h2g_ctl->tail, head);		/* [D] */

	head = READ_ONCE(tp->g2h_ctl->head);
	tail = smp_load_acquire(&tp->g2h_ctl->tail);		/* [A] */
	if (head - tail > VSV_SLOT_COUNT)
		goto corrupt;
	tp->g2h_head = head;
	return 0;

corrupt:
	dev_err(&tp->pdev->dev, "BAR2 mailbox indices out of range (head %u, tail %u)\n",
		head, tail);
	return -EPROTO;
}

static void vsv_stop_interrupts(struct vsv_transport *tp)
{
	set_bit(VSV_TP_STOPPING, &tp->flags);
	del_timer_sync(&tp->liveness_timer);
	free_irq(pci_irq_vector(tp->pdev, VSV_VEC_CHANNEL), tp);
	free_irq(pci_irq_vector(tp->pdev, VSV_VEC_CONTROL), tp);
	tasklet_kill(&tp->msg_tasklet);
}

static int vsv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vsv_transport *tp;
	u64 bar_len;
	int ret;

	if (vsv_tp()) {
		dev_info(&pdev->dev, "a VMBus transport is already attached\n");
		return -EBUSY;
	}

	tp = kzalloc(sizeof(*tp), GFP_KERNEL);
	if (!tp)
		return -ENOMEM;
	tp->pdev = pdev;
	mutex_init(&tp->post_lock);
	init_waitqueue_head(&tp->space_wq);
	spin_lock_init(&tp->live_lock);
	tasklet_setup(&tp->msg_tasklet, vsv_msg_tasklet);
	timer_setup(&tp->liveness_timer, vsv_liveness_timer, 0);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free_tp;
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable_device;

	bar_len = pci_resource_len(pdev, 2);
	if (pci_resource_len(pdev, 0) < VSV_BAR0_MIN ||
	    !(pci_resource_flags(pdev, 2) & IORESOURCE_MEM) ||
	    bar_len < VSV_REGION_MIN) {
		dev_err(&pdev->dev, "unexpected BARs (BAR0 %llu bytes, BAR2 %llu bytes)\n",
			(u64)pci_resource_len(pdev, 0), bar_len);
		ret = -ENODEV;
		goto err_release_regions;
	}
	tp->regs = pci_iomap(pdev, 0, VSV_BAR0_MIN);
	if (!tp->regs) {
		ret = -ENOMEM;
		goto err_release_regions;
	}
	tp->shm = memremap(pci_resource_start(pdev, 2), bar_len, MEMREMAP_WB);
	if (!tp->shm) {
		ret = -ENOMEM;
		goto err_unmap_regs;
	}
	ret = vsv_check_layout(tp, bar_len);
	if (ret)
		goto err_unmap_shm;
	ret = vsv_adopt_mailboxes(tp);
	if (ret)
		goto err_unmap_shm;

	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, VSV_VECTORS, VSV_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "cannot enable %d MSI-X vectors: %d\n", VSV_VECTORS, ret);
		goto err_clear_master;
	}
	ret = request_irq(pci_irq_vector(pdev, VSV_VEC_CONTROL), vsv_control_irq, 0,
			  KBUILD_MODNAME "-ctl", tp);
	if (ret)
		goto err_free_vectors;
	ret = request_irq(pci_irq_vector(pdev, VSV_VEC_CHANNEL), vsv_channel_irq, 0,
			  KBUILD_MODNAME "-chan", tp);
	if (ret)
		goto err_free_irq_control;

	pci_set_drvdata(pdev, tp);
	vsv.parent = &pdev->dev;
	WRITE_ONCE(vsv.tp, tp);

	/* Signals sent before MSI-X was enabled were dropped: look once (3.3). */
	tasklet_schedule(&tp->msg_tasklet);
	vsv_scan_events(tp);
	mod_timer(&tp->liveness_timer,
		  jiffies + msecs_to_jiffies(VSV_LIVENESS_PERIOD_MS));

	ret = vsv_connect();
	if (ret)
		goto err_stop_interrupts;
	return 0;

err_stop_interrupts:
	vsv_stop_interrupts(tp);
	WRITE_ONCE(vsv.tp, NULL);
	vsv.parent = NULL;
	goto err_free_vectors;
err_free_irq_control:
	free_irq(pci_irq_vector(pdev, VSV_VEC_CONTROL), tp);
err_free_vectors:
	pci_free_irq_vectors(pdev);
err_clear_master:
	pci_clear_master(pdev);
err_unmap_shm:
	memunmap(tp->shm);
err_unmap_regs:
	pci_iounmap(pdev, tp->regs);
err_release_regions:
	pci_release_regions(pdev);
err_disable_device:
	pci_disable_device(pdev);
err_free_tp:
	kfree(tp);
	return ret;
}

static void vsv_remove(struct pci_dev *pdev)
{
	struct vsv_transport *tp = pci_get_drvdata(pdev);

	vsv_disconnect();
	vsv_stop_interrupts(tp);
	WRITE_ONCE(vsv.tp, NULL);
	vsv.parent = NULL;
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	memunmap(tp->shm);
	pci_iounmap(pdev, tp->regs);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	kfree(tp);
}

static const struct pci_device_id vsv_pci_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },	/* ivshmem */
	{ }
};
MODULE_DEVICE_TABLE(pci, vsv_pci_ids);

static struct pci_driver vsv_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = vsv_pci_ids,
	.probe = vsv_probe,
	.remove = vsv_remove,
};

int vsv_transport_register(void)
{
	return pci_register_driver(&vsv_pci_driver);
}

void vsv_transport_unregister(void)
{
	pci_unregister_driver(&vsv_pci_driver);
}
