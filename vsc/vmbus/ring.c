// SPDX-License-Identifier: GPL-2.0
/*
 * The VMBus ring buffer (include/linux/hyperv.h, DESIGN.md section 4): a
 * header page (write_index, read_index, interrupt_mask, pending_send_sz,
 * feature_bits), then the data area; indices are byte offsets into it. A
 * packet is a vmpacket_descriptor, its payload padded to 8 bytes, then a u64
 * trailer holding the packet's start offset in its upper half.
 *
 * Ordering: the writer copies the packet, then publishes write_index with a
 * release; the reader loads write_index with an acquire, copies, then
 * publishes read_index with a release. The signal rules (signal the reader
 * only if it has not masked interrupts and the ring was empty before the
 * write; signal a blocked writer only when freed space crosses its
 * pending_send_sz) each sit behind a full barrier, as hv_vmbus's do.
 *
 * The inbound ring has one reader (the channel callback); the outbound ring
 * has many writers serialised by outbound.ring_lock.
 */
#include <linux/module.h>
#include <linux/reciprocal_div.h>
#include <linux/slab.h>

#include "vmbus_priv.h"

#define VSV_PKT_TRAILER	sizeof(u64)

int vsv_ring_init(struct hv_ring_buffer_info *rbi, struct page *pages,
		  u32 page_count, u32 max_pkt_size)
{
	struct hv_ring_buffer *ring = page_address(pages);

	if (page_count < 2 || max_pkt_size < sizeof(struct vmpacket_descriptor))
		return -EINVAL;
	rbi->pkt_buffer = kzalloc(max_pkt_size, GFP_KERNEL);
	if (!rbi->pkt_buffer)
		return -ENOMEM;
	rbi->pkt_buffer_size = max_pkt_size;

	/* A reopened channel reuses its pages: reset the whole header. */
	memset(ring, 0, sizeof(*ring));
	ring->feature_bits.value = 1;	/* feat_pending_send_sz */
	rbi->ring_buffer = ring;
	rbi->ring_size = page_count << PAGE_SHIFT;
	rbi->ring_size_div10_reciprocal = reciprocal_value(rbi->ring_size / 10);
	rbi->ring_datasize = rbi->ring_size - sizeof(struct hv_ring_buffer);
	rbi->priv_read_index = 0;
	return 0;
}

void vsv_ring_cleanup(struct hv_ring_buffer_info *rbi)
{
	mutex_lock(&rbi->ring_buffer_mutex);
	kfree(rbi->pkt_buffer);
	rbi->pkt_buffer = NULL;
	rbi->pkt_buffer_size = 0;
	rbi->ring_buffer = NULL;
	mutex_unlock(&rbi->ring_buffer_mutex);
}

/* Copies len bytes into the data area at start, wrapping; returns the end. */
static u32 vsv_ring_put(struct hv_ring_buffer_info *rbi, u32 start,
			const void *src, u32 len)
{
	u8 *data = rbi->ring_buffer->buffer;
	u32 dsize = rbi->ring_datasize;
	u32 first = min(len, dsize - start);

	memcpy(data + start, src, first);
	memcpy(data, src + first, len - first);
	start += len;
	return start >= dsize ? start - dsize : start;
}

static void vsv_ring_get(const struct hv_ring_buffer_info *rbi, u32 start,
			 void *dst, u32 len)
{
	const u8 *data = rbi->ring_buffer->buffer;
	u32 first = min(len, rbi->ring_datasize - start);

	memcpy(dst, data + start, first);
	memcpy(dst + first, data, len - first);
}

/* Bytes between two valid offsets of the data area, going forwards. */
static u32 vsv_ring_dist(u32 from, u32 to, u32 dsize)
{
	return to >= from ? to - from : dsize - from + to;
}

static void vsv_signal_on_write(struct vmbus_channel *ch, u32 old_write)
{
	struct hv_ring_buffer *ring = ch->outbound.ring_buffer;

	virt_mb();	/* write_index is visible before we look at the reader */
	if (READ_ONCE(ring->interrupt_mask))
		return;
	virt_rmb();	/* the mask is read before read_index */
	if (old_write == READ_ONCE(ring->read_index)) {
		++ch->intr_out_empty;
		vmbus_setevent(ch);
	}
}

/*
 * Writes one packet made of kv[0..kv_count) plus the trailer. kv[0] starts
 * with the packet's descriptor, whose trans_id is filled in here (from the
 * channel's requestor, if the driver installed one).
 */
int vsv_ring_write(struct vmbus_channel *ch, const struct kvec *kv,
		   u32 kv_count, u64 requestid, u64 *trans_id)
{
	struct hv_ring_buffer_info *out = &ch->outbound;
	struct vmpacket_descriptor *desc = kv[0].iov_base;
	u64 rqst_id = VMBUS_NO_RQSTOR;
	u32 total = VSV_PKT_TRAILER;
	u32 old_write, read, next, i;
	unsigned long flags;
	u64 trailer;

	for (i = 0; i < kv_count; i++)
		total += kv[i].iov_len;

	spin_lock_irqsave(&out->ring_lock, flags);
	if (READ_ONCE(ch->rescind) || !out->ring_buffer) {
		spin_unlock_irqrestore(&out->ring_lock, flags);
		return -ENODEV;
	}
	old_write = out->ring_buffer->write_index;
	read = READ_ONCE(out->ring_buffer->read_index);
	if (old_write >= out->ring_datasize || read >= out->ring_datasize ||
	    (read & 7)) {
		spin_unlock_irqrestore(&out->ring_lock, flags);
		pr_err_ratelimited("vscsim_vmbus: relid %u: outbound ring indices corrupt (%u, %u)\n",
				   ch->offermsg.child_relid, old_write, read);
		return -EIO;
	}
	/* Strictly more room than the packet: a full ring never looks empty. */
	if (out->ring_datasize - vsv_ring_dist(read, old_write, out->ring_datasize) <= total) {
		++ch->out_full_total;
		if (!ch->out_full_flag) {
			++ch->out_full_first;
			ch->out_full_flag = true;
		}
		spin_unlock_irqrestore(&out->ring_lock, flags);
		return -EAGAIN;
	}

	if (ch->next_request_id_callback) {
		rqst_id = ch->next_request_id_callback(ch, requestid);
		if (rqst_id == VMBUS_RQST_ERROR) {
			spin_unlock_irqrestore(&out->ring_lock, flags);
			return -EAGAIN;
		}
	}
	desc->trans_id = rqst_id == VMBUS_NO_RQSTOR ? requestid : rqst_id;

	next = old_write;
	for (i = 0; i < kv_count; i++)
		next = vsv_ring_put(out, next, kv[i].iov_base, kv[i].iov_len);
	trailer = (u64)old_write << 32;
	next = vsv_ring_put(out, next, &trailer, sizeof(trailer));

	/* The packet's bytes are visible before the index that publishes them. */
	smp_store_release(&out->ring_buffer->write_index, next);
	ch->out_full_flag = false;
	if (trans_id)
		*trans_id = desc->trans_id;
	spin_unlock_irqrestore(&out->ring_lock, flags);

	if (READ_ONCE(ch->rescind)) {
		/* Nobody will answer: give the id back. */
		if (rqst_id != VMBUS_NO_RQSTOR && ch->request_addr_callback)
			ch->request_addr_callback(ch, rqst_id);
		return -ENODEV;
	}
	vsv_signal_on_write(ch, old_write);
	return 0;
}

/* Bytes the reader has not consumed privately yet; 0 if the host broke the index. */
static u32 vsv_pkt_iter_avail(const struct hv_ring_buffer_info *rbi)
{
	/* Pairs with the host's release of write_index: the packet is visible. */
	u32 write = smp_load_acquire(&rbi->ring_buffer->write_index);

	if (write >= rbi->ring_datasize || (write & 7))
		return 0;
	return vsv_ring_dist(rbi->priv_read_index, write, rbi->ring_datasize);
}

/*
 * Copies the next packet into inbound.pkt_buffer and returns the copy, or
 * NULL if the ring holds no whole descriptor. The copy is what the caller
 * sees: the host can no longer change it. A packet longer than pkt_buffer is
 * truncated to it (the ring still advances past the whole packet); a length
 * that cannot be right consumes everything available, so a broken host
 * cannot make the reader spin on one packet.
 */
struct vmpacket_descriptor *hv_pkt_iter_first(struct vmbus_channel *channel)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	struct vsv_channel *vc = to_vsv_channel(channel);
	struct vmpacket_descriptor hdr, *copy;
	u32 avail, len, offset, copy_len;

	if (!rbi->ring_buffer || !rbi->pkt_buffer)
		return NULL;
	avail = vsv_pkt_iter_avail(rbi);
	if (avail < sizeof(hdr))
		return NULL;

	vsv_ring_get(rbi, rbi->priv_read_index, &hdr, sizeof(hdr));
	len = (u32)hdr.len8 << 3;
	offset = (u32)hdr.offset8 << 3;
	if (len < sizeof(hdr) || len + VSV_PKT_TRAILER > avail) {
		pr_warn_ratelimited("vscsim_vmbus: relid %u: packet length %u with %u bytes in the ring\n",
				    channel->offermsg.child_relid, len, avail);
		vc->pkt_advance = avail;
		len = avail;
	} else {
		vc->pkt_advance = len + VSV_PKT_TRAILER;
	}
	copy_len = round_down(min(len, rbi->pkt_buffer_size), 8);

	copy = rbi->pkt_buffer;
	vsv_ring_get(rbi, rbi->priv_read_index, copy, copy_len);
	copy->len8 = copy_len >> 3;
	if (offset < sizeof(hdr) || offset > copy_len)
		offset = sizeof(hdr);
	copy->offset8 = offset >> 3;
	return copy;
}
EXPORT_SYMBOL_GPL(hv_pkt_iter_first);

struct vmpacket_descriptor *__hv_pkt_iter_next(struct vmbus_channel *channel,
					       const struct vmpacket_descriptor *pkt)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	u32 next = rbi->priv_read_index + to_vsv_channel(channel)->pkt_advance;

	rbi->priv_read_index = next >= rbi->ring_datasize ? next - rbi->ring_datasize : next;
	return hv_pkt_iter_first(channel);
}
EXPORT_SYMBOL_GPL(__hv_pkt_iter_next);

/* Publishes what the reader consumed; wakes a host blocked on a full ring. */
void hv_pkt_iter_close(struct vmbus_channel *channel)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	struct hv_ring_buffer *ring = rbi->ring_buffer;
	u32 start, pending, free_now, consumed;

	if (!ring)
		return;
	start = ring->read_index;
	/* Every copy out of the ring is done before the host may reuse it. */
	smp_store_release(&ring->read_index, rbi->priv_read_index);

	if (!(READ_ONCE(ring->feature_bits.value) & 1))
		return;
	virt_mb();	/* read_index is visible before pending_send_sz is read */
	pending = READ_ONCE(ring->pending_send_sz);
	if (!pending)
		return;
	virt_rmb();	/* pending_send_sz is read before the indices */
	free_now = hv_get_bytes_to_write(rbi);
	consumed = vsv_ring_dist(start, rbi->priv_read_index, rbi->ring_datasize);
	/* Signal only if this read made the free space cross pending_send_sz. */
	if (free_now - consumed > pending || free_now <= pending)
		return;
	++channel->intr_in_full;
	vmbus_setevent(channel);
}
EXPORT_SYMBOL_GPL(hv_pkt_iter_close);

int vsv_ring_read(struct vmbus_channel *ch, void *buffer, u32 buflen,
		  u32 *actual_len, u64 *requestid, bool raw)
{
	struct vmpacket_descriptor *desc;
	u32 offset, len;

	if (!buflen)
		return -EINVAL;
	*actual_len = 0;
	*requestid = 0;

	desc = hv_pkt_iter_first(ch);
	if (!desc)
		return 0;	/* nothing to read: callers look at actual_len */

	offset = raw ? 0 : (u32)desc->offset8 << 3;
	len = ((u32)desc->len8 << 3) - offset;
	*actual_len = len;
	*requestid = desc->trans_id;
	if (len > buflen)
		return -ENOBUFS;
	memcpy(buffer, (u8 *)desc + offset, len);
	__hv_pkt_iter_next(ch, desc);
	hv_pkt_iter_close(ch);
	return 0;
}
