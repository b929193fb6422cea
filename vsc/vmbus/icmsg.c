// SPDX-License-Identifier: GPL-2.0
/*
 * vmbus_prep_negotiate_resp(): the answer to an integration-component
 * version negotiation (hv_utils' heartbeat, shutdown, time sync, KVP, VSS,
 * file copy). The host lists the framework versions it speaks, then the
 * message versions; the guest picks the first of its own lists (in its
 * order of preference) that the host offered and rewrites the negotiate
 * packet in place to name exactly one of each, or none.
 */
#include <linux/module.h>

#include "vmbus_priv.h"

static bool vsv_pick_version(const struct ic_version *offered, unsigned int count,
			     const int *wanted, int wanted_count, int *major, int *minor)
{
	unsigned int j;
	int i;

	for (i = 0; i < wanted_count; i++) {
		for (j = 0; j < count; j++) {
			if (offered[j].major == (wanted[i] >> 16) &&
			    offered[j].minor == (wanted[i] & 0xffff)) {
				*major = offered[j].major;
				*minor = offered[j].minor;
				return true;
			}
		}
	}
	return false;
}

/**
 * vmbus_prep_negotiate_resp - answer an IC version negotiation in place
 * @icmsghdrp: the IC message header inside @buf
 * @buf: the whole packet payload (pipe header, IC header, negotiate body)
 * @buflen: its length (host-controlled contents)
 * @fw_version: framework versions the driver accepts, preferred first
 * @fw_vercnt: their number
 * @srv_version: service versions the driver accepts, preferred first
 * @srv_vercnt: their number
 * @nego_fw_version: the chosen framework version, or NULL
 * @nego_srv_version: the chosen service version, or NULL
 *
 * Return: true if both a framework and a service version matched.
 */
bool vmbus_prep_negotiate_resp(struct icmsg_hdr *icmsghdrp, u8 *buf, u32 buflen,
			       const int *fw_version, int fw_vercnt,
			       const int *srv_version, int srv_vercnt,
			       int *nego_fw_version, int *nego_srv_version)
{
	struct icmsg_negotiate *negop;
	int fw_major = 0, fw_minor = 0, srv_major = 0, srv_minor = 0;
	unsigned int fw_count, srv_count;
	bool found = false;

	/* Room for the counts and for the two entries of the answer. */
	if (buflen < ICMSG_NEGOTIATE_PKT_SIZE(1, 1)) {
		pr_err_ratelimited("vscsim_vmbus: IC negotiate packet too short (%u bytes)\n",
				   buflen);
		return false;
	}
	icmsghdrp->icmsgsize = 0x10;
	negop = (struct icmsg_negotiate *)&buf[ICMSG_HDR];
	fw_count = negop->icframe_vercnt;
	srv_count = negop->icmsg_vercnt;
	/* As hv_vmbus answers: an unmatched part carries the offered count as major. */
	fw_major = fw_count;
	srv_major = srv_count;

	if (fw_count > IC_VERSION_NEGOTIATION_MAX_VER_COUNT ||
	    srv_count > IC_VERSION_NEGOTIATION_MAX_VER_COUNT ||
	    ICMSG_NEGOTIATE_PKT_SIZE(fw_count, srv_count) > buflen) {
		pr_err_ratelimited("vscsim_vmbus: IC negotiate counts %u/%u do not fit %u bytes\n",
				   fw_count, srv_count, buflen);
		goto answer;
	}
	if (vsv_pick_version(negop->icversion_data, fw_count, fw_version, fw_vercnt,
			     &fw_major, &fw_minor))
		found = vsv_pick_version(negop->icversion_data + fw_count, srv_count,
					 srv_version, srv_vercnt, &srv_major, &srv_minor);

answer:
	negop->icframe_vercnt = found ? 1 : 0;
	negop->icmsg_vercnt = found ? 1 : 0;
	if (nego_fw_version)
		*nego_fw_version = (fw_major << 16) | fw_minor;
	if (nego_srv_version)
		*nego_srv_version = (srv_major << 16) | srv_minor;
	negop->icversion_data[0].major = fw_major;
	negop->icversion_data[0].minor = fw_minor;
	negop->icversion_data[1].major = srv_major;
	negop->icversion_data[1].minor = srv_minor;
	return found;
}
EXPORT_SYMBOL_GPL(vmbus_prep_negotiate_resp);
