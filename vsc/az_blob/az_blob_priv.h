/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private declarations of the Azure Blob VSC.
 *
 * Lifetimes (every object is reference counted, so no path frees what
 * another still reaches):
 *   az_blob_dev   probe .. last of {remove, open files, requests} drops it.
 *                 remove deregisters the misc device first, then fails what
 *                 is in flight, closes the channel, and drops its reference;
 *                 an open file keeps a removed device alive (its calls fail
 *                 with -ENODEV) without blocking remove.
 *   az_blob_req   one ioctl. Two references: the caller's, and the
 *                 channel's while its id sits in the requestor table (from
 *                 the send until the host's completion takes it back, or
 *                 until the channel is closed). The pages stay pinned until
 *                 both are gone, so a host answering after the caller gave
 *                 up writes into pages that are still ours.
 *
 * Locking: az_blob_dev.lock (a spinlock, also taken in the channel
 * callback) guards removing, the request and file lists, the counters of
 * requests and active callers, and each request's state.
 */
#ifndef AZ_BLOB_PRIV_H
#define AZ_BLOB_PRIV_H

#include <linux/completion.h>
#include <linux/hyperv.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <vscsim_race_gate.h>
#include <uapi/linux/az_blob.h>

#include "az_blob_wire.h"

#define AZ_BLOB_RING_SIZE	(128 * 1024)

/* Counters shown in debugfs: what the host or the callers did. */
struct az_blob_stats {
	u64 requests;		/* sent to the host */
	u64 answered;		/* completed by the host in time */
	u64 timeouts;		/* callers that stopped waiting */
	u64 late_completions;	/* answers for requests whose caller had left */
	u64 failed_on_removal;	/* in flight when the device went away */
	u64 bad_ids;		/* completions naming no request in flight */
	u64 bad_packets;	/* wrong type, short, or oversized response_len */
	u64 busy;		/* refused: in-flight table full */
};

struct az_blob_dev {
	struct hv_device *hdev;		/* NULL once removed */
	struct vmbus_channel *channel;	/* valid while hdev is */
	struct kref kref;
	spinlock_t lock;		/* see the comment at the top */
	bool removing;
	unsigned int active;		/* callers that may still use the channel */
	unsigned int outstanding;	/* requests holding a requestor id */
	wait_queue_head_t drain_wq;	/* remove waits here for active == 0 */
	struct list_head requests;	/* az_blob_req.dev_node */
	struct list_head files;		/* az_blob_file.node */
	struct az_blob_stats stats;
	int index;
	char name[24];
	struct miscdevice misc;
	struct dentry *debugfs;
};

struct az_blob_file {
	struct az_blob_dev *dev;	/* holds a reference */
	struct list_head node;		/* in dev->files */
	struct list_head pending;	/* az_blob_req.file_node, callers in flight */
	pid_t opener;
	char comm[TASK_COMM_LEN];
};

enum az_blob_req_state {
	AZ_BLOB_REQ_PENDING,	/* waiting for the host */
	AZ_BLOB_REQ_ANSWERED,	/* the host's answer is in resp */
	AZ_BLOB_REQ_FAILED,	/* error says why (-ENODEV, -EIO) */
	AZ_BLOB_REQ_ABANDONED,	/* the caller left; a late answer is dropped */
};

struct az_blob_req {
	struct kref kref;
	struct az_blob_dev *dev;	/* holds a reference */
	struct list_head dev_node;	/* in dev->requests while it holds an id */
	struct list_head file_node;	/* in file->pending while the caller waits */
	struct completion done;
	enum az_blob_req_state state;
	int error;
	struct az_blob_vsp_response resp;	/* valid when ANSWERED */
	u32 response_cap;		/* response_len the caller allowed */
	u64 trans_id;			/* the requestor's id, for debugfs */
	unsigned long sent_jiffies;
	struct az_blob_request_sync user;	/* the caller's request, checked */

	/* Pinned user pages, in wire order: data, request, response. */
	struct page **pages;
	unsigned int nr_pages;
	unsigned int nr_pinned;
	unsigned int nr_data_pages, nr_request_pages;
	bool data_writable;

	struct vmbus_packet_mpb_array *desc;	/* the packet's range list */
	u32 desc_size;
	struct az_blob_vsp_request wire;

	struct work_struct release_work;	/* unpinning may sleep */
};

/* main.c */
extern unsigned int az_blob_timeout_ms;
extern unsigned int az_blob_queue_depth;
extern unsigned int az_blob_completion_budget;
extern struct workqueue_struct *az_blob_wq;
void az_blob_dev_put(struct az_blob_dev *dev);

/* request.c */
long az_blob_user_request(struct az_blob_file *file,
			  struct az_blob_request_sync __user *uarg);
void az_blob_on_channel(void *context);
void az_blob_fail_in_flight(struct az_blob_dev *dev, int error);
void az_blob_release_channel_refs(struct az_blob_dev *dev);
long az_blob_pinned_pages(void);

/* debugfs.c */
void az_blob_debugfs_init(void);
void az_blob_debugfs_exit(void);
void az_blob_debugfs_add(struct az_blob_dev *dev);
void az_blob_debugfs_remove(struct az_blob_dev *dev);

#endif /* AZ_BLOB_PRIV_H */
