/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Race gates: named points in a driver's process-context code where the host
 * can hold the next thread that passes, to force one interleaving of a race
 * (vsc/race_gate/README.md).
 *
 *	vscsim_race_gate_point("az_blob.open");
 *
 * Compiled in only where the module's Kbuild defines VSCSIM_RACE_GATE;
 * elsewhere the call is an empty inline. Compiled in, it costs one symbol
 * lookup per pass while the gate module (vscsim_race_gate) is not loaded,
 * and the driver does not depend on it: the lookup (symbol_get) finds the
 * gate only while it is loaded and live.
 *
 * A held thread sleeps here, in the caller's own code, on a completion of
 * its own stack: killable, bounded by the point's timeout, and without a
 * reference on the gate module, so the gate can be unloaded while it holds
 * someone (its exit releases every held thread first). The gate module only
 * decides and records.
 *
 * Only where sleeping is allowed: process context, no spinlock held, no RCU
 * read side. Locks the caller holds stay held while it waits.
 */
#ifndef VSCSIM_RACE_GATE_H
#define VSCSIM_RACE_GATE_H

#include <linux/completion.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/sched.h>

/* A thread held at a point; lives on the held thread's stack. */
struct vscsim_race_gate_waiter {
	struct completion done;		/* completed when the gate lets it go */
	unsigned long timeout;		/* jiffies, set by the gate */
};

/*
 * Exported by vscsim_race_gate. enter() returns true when the point was
 * armed: @w is queued and the caller must wait on w->done for w->timeout.
 * leave() is for a caller that stopped waiting on its own (timeout or fatal
 * signal, @left is what the wait returned): it takes @w out of the gate,
 * unless the gate let it go meanwhile.
 */
bool vscsim_race_gate_enter(const char *point,
			    struct vscsim_race_gate_waiter *w);
void vscsim_race_gate_leave(struct vscsim_race_gate_waiter *w, long left);

#ifdef VSCSIM_RACE_GATE
static inline void vscsim_race_gate_point(const char *point)
{
	bool (*enter)(const char *point, struct vscsim_race_gate_waiter *w);
	void (*leave)(struct vscsim_race_gate_waiter *w, long left);
	struct vscsim_race_gate_waiter w;
	bool queued;
	long left;

	might_sleep();
	enter = symbol_get(vscsim_race_gate_enter);
	if (!enter)
		return;
	init_completion(&w.done);
	queued = enter(point, &w);
	/* No reference on the gate while waiting: it may be unloaded. */
	symbol_put(vscsim_race_gate_enter);
	if (!queued)
		return;
	left = wait_for_completion_killable_timeout(&w.done, w.timeout);
	if (left > 0)
		return;
	leave = symbol_get(vscsim_race_gate_leave);
	if (leave) {
		leave(&w, left);
		symbol_put(vscsim_race_gate_leave);
		return;
	}
	/*
	 * The gate is going away: its exit completes every queued waiter,
	 * this one included, and no longer touches it after that.
	 */
	wait_for_completion(&w.done);
}
#else
static inline void vscsim_race_gate_point(const char *point)
{
}
#endif

#endif /* VSCSIM_RACE_GATE_H */
