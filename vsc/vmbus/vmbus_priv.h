/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vscsim_vmbus private declarations shared by the files of the module.
 *
 * Layers, lowest first (a file only calls into the layers below it):
 *   transport.c     ivshmem-doorbell device, BAR2 layout, mailboxes, event
 *                   bitmaps, doorbells, host liveness (docs/transport.md)
 *   connection.c    control-message dispatch, waits for host replies,
 *                   version negotiation, offers request, unload
 *   ring.c          the VMBus ring buffer format (read, write, signal rules)
 *   gpadl.c         GPADL establish and teardown
 *   channel_mgmt.c  offers, rescind, channel lifetime, relid table
 *   channel.c       the client API: open, close, send, receive, requestor
 *   bus.c           the "vmbus" bus, drivers, hv_devices, sysfs, module init
 *   icmsg.c         the IC version negotiation helper used by hv_utils
 */
#ifndef VSCSIM_VMBUS_PRIV_H
#define VSCSIM_VMBUS_PRIV_H

#include <linux/build_bug.h>
#include <linux/completion.h>
#include <linux/hyperv.h>
#include <linux/interrupt.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/uio.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

/* ---- BAR2 layout, version 1 (docs/transport.md section 4) ---- */

#define VSV_MAGIC		0x42564D4953435356ULL	/* "VSCSIMVB" */
#define VSV_LAYOUT_VERSION	1
#define VSV_HEADER_SIZE		0x1000
#define VSV_REGION_MIN		0x10000ULL
#define VSV_REGION_MAX		0x1000000ULL
#define VSV_VECTORS		2
#define VSV_SLOT_SIZE		256
#define VSV_SLOT_COUNT		64
#define VSV_SLOT_HDR_SIZE	16
#define VSV_MSG_MIN		8
#define VSV_MSG_MAX		(VSV_SLOT_SIZE - VSV_SLOT_HDR_SIZE)
#define VSV_EVENT_BITS		2048
#define VSV_EVENT_WORDS		(VSV_EVENT_BITS / 64)
#define VSV_H2G_CTL_OFF		0x1000
#define VSV_G2H_CTL_OFF		0x1100
#define VSV_H2G_EVENTS_OFF	0x1200
#define VSV_G2H_EVENTS_OFF	0x1300
#define VSV_H2G_SLOTS_OFF	0x2000
#define VSV_G2H_SLOTS_OFF	0x6000

/* BAR0 registers of ivshmem */
#define VSV_REG_IVPOSITION	8
#define VSV_REG_DOORBELL	12
#define VSV_BAR0_MIN		256

/* Vectors, both directions */
#define VSV_VEC_CONTROL		0
#define VSV_VEC_CHANNEL		1

/* header.host_state */
#define VSV_HOST_INITIALISING	0
#define VSV_HOST_RUNNING	1
#define VSV_HOST_STOPPED	2

#define VSV_NO_PEER		0xFFFFFFFFU

struct vsv_shm_header {
	u64 magic;
	u32 layout_version;
	u32 header_size;
	u64 region_size;
	u32 host_peer_id;
	u32 guest_peer_id;
	u32 vectors;
	u32 slot_size;
	u32 slot_count;
	u32 event_bits;
	u64 h2g_control_offset;
	u64 g2h_control_offset;
	u64 h2g_slots_offset;
	u64 g2h_slots_offset;
	u64 h2g_events_offset;
	u64 g2h_events_offset;
	u8 reserved[0x20];
	u32 host_state;
	u32 generation;
	u64 heartbeat;
};

static_assert(offsetof(struct vsv_shm_header, host_state) == 0x80);
static_assert(offsetof(struct vsv_shm_header, heartbeat) == 0x88);

/* Each index sits in its own 64-byte line; see docs/transport.md 4.2. */
struct vsv_mbox_ctl {
	u32 head;
	u8 pad0[60];
	u32 tail;
	u8 pad1[60];
	u32 producer_waiting;
	u8 pad2[60];
	u8 reserved[64];
};

static_assert(sizeof(struct vsv_mbox_ctl) == 0x100);

struct vsv_slot {
	u32 size;
	u32 index;
	u64 reserved;
	u8 payload[VSV_MSG_MAX];
};

static_assert(sizeof(struct vsv_slot) == VSV_SLOT_SIZE);

/* ---- transport.c ---- */

/* Bits of vsv_transport.flags */
#define VSV_TP_GONE	0	/* host stopped, died or reset: never touch the mailboxes again */
#define VSV_TP_BROKEN	1	/* the host broke the mailbox protocol */
#define VSV_TP_STOPPING	2	/* remove() is tearing the transport down */

struct vsv_transport {
	struct pci_dev *pdev;
	void __iomem *regs;
	void *shm;
	u64 shm_size;
	struct vsv_shm_header *hdr;
	struct vsv_mbox_ctl *h2g_ctl;
	struct vsv_mbox_ctl *g2h_ctl;
	struct vsv_slot *h2g_slots;
	struct vsv_slot *g2h_slots;
	unsigned long *h2g_events;
	unsigned long *g2h_events;

	u32 host_peer;
	u32 generation;		/* recorded at attach */
	spinlock_t live_lock;	/* heartbeat, heartbeat_jiffies */
	u64 heartbeat;		/* last value seen */
	unsigned long heartbeat_jiffies;	/* when it last changed */

	struct mutex post_lock;	/* serialises guest-to-host posts */
	u32 g2h_head;		/* private producer index (post_lock) */
	wait_queue_head_t space_wq;	/* posters waiting for a free slot */

	u32 h2g_tail;		/* private consumer index (msg_tasklet only) */
	struct tasklet_struct msg_tasklet;

	struct timer_list liveness_timer;
	unsigned long flags;
};

int vsv_transport_register(void);
void vsv_transport_unregister(void);
int vsv_post_msg(const void *msg, u32 size);
void vsv_signal_channel(u32 relid);
bool vsv_host_gone(void);
bool vsv_check_host(void);

/* ---- connection.c ---- */

extern unsigned int vsv_timeout_ms;

/* A thread waiting for one reply from the host. */
struct vsv_wait {
	struct list_head node;
	u32 reply_type;
	u32 key1;
	u32 key2;
	struct vmbus_channel *channel;	/* failed when this channel is rescinded */
	struct completion done;
	int err;
	u32 reply_size;
	u8 reply[VSV_MSG_MAX];
};

struct vsv_conn {
	struct vsv_transport *tp;	/* set while a device is attached */
	struct device *parent;		/* parent of the hv_devices */

	spinlock_t wait_lock;		/* waits */
	struct list_head waits;

	struct workqueue_struct *ctl_wq;	/* ordered: offers, rescinds */
	struct workqueue_struct *remove_wq;	/* device removal after rescind */

	spinlock_t chan_lock;		/* relid_map (taken in hard irq) */
	struct vmbus_channel *relid_map[VSV_EVENT_BITS];
	struct mutex chan_mutex;	/* channels, ignored_relids */
	struct list_head channels;
	DECLARE_BITMAP(ignored_relids, VSV_EVENT_BITS);

	struct completion offers_delivered;
	bool unloading;
};

extern struct vsv_conn vsv;

void vsv_wait_init(struct vsv_wait *w, u32 reply_type, u32 key1, u32 key2,
		   struct vmbus_channel *channel);
int vsv_wait_begin(struct vsv_wait *w);
int vsv_wait_end(struct vsv_wait *w, int post_err);
int vsv_post_and_wait(struct vsv_wait *w, const void *msg, u32 size);
void vsv_fail_channel_waits(struct vmbus_channel *channel);
void vsv_fail_all_waits(void);
void vsv_dispatch_msg(const void *msg, u32 size);
int vsv_connect(void);
void vsv_disconnect(void);
void vsv_host_went_away(void);

/* ---- channel_mgmt.c ---- */

/* The bus's own wrapper around each channel. */
struct vsv_channel {
	struct vmbus_channel ch;
	struct work_struct remove_work;
	u32 pkt_advance;	/* ring bytes of the packet in inbound.pkt_buffer */
	bool mapped;		/* present in vsv.relid_map */
};

static inline struct vsv_channel *to_vsv_channel(struct vmbus_channel *c)
{
	return container_of(c, struct vsv_channel, ch);
}

void vsv_handle_offer(const struct vmbus_channel_offer_channel *offer);
void vsv_rescind_early(u32 relid);
void vsv_handle_rescind(u32 relid);
void vsv_remove_all_channels(void);
void vsv_fail_all_channels(void);
void vsv_channel_free(struct vmbus_channel *channel);
void vsv_schedule_channel(u32 relid);

/* ---- ring.c ---- */

int vsv_ring_init(struct hv_ring_buffer_info *rbi, struct page *pages,
		  u32 page_count, u32 max_pkt_size);
void vsv_ring_cleanup(struct hv_ring_buffer_info *rbi);
int vsv_ring_write(struct vmbus_channel *channel, const struct kvec *kv,
		   u32 kv_count, u64 requestid, u64 *trans_id);
int vsv_ring_read(struct vmbus_channel *channel, void *buffer, u32 buflen,
		  u32 *actual_len, u64 *requestid, bool raw);

/* ---- gpadl.c ---- */

int vsv_gpadl_create(struct vmbus_channel *channel, void *kbuffer, u32 size,
		     struct vmbus_gpadl *gpadl);
int vsv_gpadl_destroy(struct vmbus_channel *channel, struct vmbus_gpadl *gpadl);

/* ---- channel.c ---- */

void vsv_channel_tasklet(struct tasklet_struct *t);
void vsv_reset_channel_cb(struct vmbus_channel *channel);

/* ---- bus.c ---- */

int vsv_device_add(struct vmbus_channel *channel);
void vsv_device_remove(struct vmbus_channel *channel);

#endif /* VSCSIM_VMBUS_PRIV_H */
