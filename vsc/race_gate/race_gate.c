// SPDX-License-Identifier: GPL-2.0
/*
 * vscsim_race_gate: holds the next thread that reaches a named point until
 * the host lets it go, so that a race happens on every run instead of by
 * luck (vsc/race_gate/README.md, DESIGN.md sections 6 and 7).
 *
 * Drivers mark their points with vscsim_race_gate_point() (the header
 * include/vscsim_race_gate.h); the held thread sleeps there, in the driver's
 * code, while this module keeps the table of points and answers the control
 * files in /sys/kernel/debug/vscsim_race_gate/:
 *
 *	arm	"<point> [timeout_ms]"	hold the next thread reaching <point>
 *	release	"<point>"		let the held thread go
 *	disarm	"<point>" | "all"	not armed any more; a held thread goes
 *	state	one line per point that was armed or reached
 *
 * Writing a point's name to /sys/module/vscsim_race_gate/parameters/selftest
 * passes that point in the writer's context (the module's own test).
 *
 * A point's states:
 *	idle		reached or disarmed, nobody waits, not armed
 *	armed		the next thread reaching it is held
 *	held		a thread waits (pid, comm, held_ms so far)
 *	released	the host let it go (release or disarm)
 *	timed-out	nobody let it go within timeout_ms: it went on alone
 *	killed		the held thread got a fatal signal
 * armed -> held -> {released, timed-out, killed}; arm again to hold another.
 *
 * Unloading releases every held thread first: they sleep in their own
 * module's code, not in this one, and take no reference on it.
 */
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <vscsim_race_gate.h>

#define RG_NAME_MAX		47
#define RG_MAX_POINTS		32
#define RG_MAX_TIMEOUT_MS	600000
#define RG_CMD_MAX		128

enum rg_state {
	RG_IDLE,
	RG_ARMED,
	RG_HELD,
	RG_RELEASED,
	RG_TIMED_OUT,
	RG_KILLED,
};

static const char * const rg_state_names[] = {
	[RG_IDLE] = "idle",
	[RG_ARMED] = "armed",
	[RG_HELD] = "held",
	[RG_RELEASED] = "released",
	[RG_TIMED_OUT] = "timed-out",
	[RG_KILLED] = "killed",
};

struct rg_point {
	char name[RG_NAME_MAX + 1];
	enum rg_state state;
	unsigned int timeout_ms;	/* of the current or last hold */
	u64 hits;			/* threads that reached it */
	u64 holds;			/* of them, held */
	struct vscsim_race_gate_waiter *waiter;	/* while held */
	pid_t pid;			/* the held (or last held) thread */
	char comm[TASK_COMM_LEN];
	ktime_t held_at;
	s64 held_ms;			/* how long the last hold lasted */
};

/* Guards everything below; taken in process context only. */
static DEFINE_SPINLOCK(rg_lock);
static struct rg_point rg_points[RG_MAX_POINTS];
static unsigned int rg_nr_points;
static bool rg_closing;

static struct dentry *rg_dir;
static bool rg_ready;		/* init done, exit not begun (selftest) */

static unsigned int rg_timeout_ms = 5000;

static int rg_set_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int ret = kstrtouint(val, 0, &ms);

	if (ret)
		return ret;
	if (!ms || ms > RG_MAX_TIMEOUT_MS)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, ms);
	return 0;
}

static const struct kernel_param_ops rg_timeout_ops = {
	.set = rg_set_timeout,
	.get = param_get_uint,
};

module_param_cb(timeout_ms, &rg_timeout_ops, &rg_timeout_ms, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Hold when arm gives no timeout, in ms (1..600000, default 5000)");

/* ---- the table ---- */

static bool rg_valid_name(const char *name)
{
	size_t len = strnlen(name, RG_NAME_MAX + 1);
	size_t i;

	if (!len || len > RG_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum(name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

static struct rg_point *rg_find_locked(const char *name)
{
	unsigned int i;

	lockdep_assert_held(&rg_lock);
	for (i = 0; i < rg_nr_points; i++)
		if (!strcmp(rg_points[i].name, name))
			return &rg_points[i];
	return NULL;
}

/* NULL when the table is full. */
static struct rg_point *rg_find_or_add_locked(const char *name)
{
	struct rg_point *p = rg_find_locked(name);

	if (p || rg_nr_points == RG_MAX_POINTS)
		return p;
	p = &rg_points[rg_nr_points++];
	strscpy(p->name, name, sizeof(p->name));
	p->state = RG_IDLE;
	p->comm[0] = '\0';
	return p;
}

/*
 * Ends a hold: after this the gate no longer refers to the waiter, which may
 * return (and its stack go) as soon as it is completed.
 */
static void rg_let_go_locked(struct rg_point *p, enum rg_state state)
{
	struct vscsim_race_gate_waiter *w = p->waiter;

	lockdep_assert_held(&rg_lock);
	p->waiter = NULL;
	p->state = state;
	p->held_ms = ktime_ms_delta(ktime_get(), p->held_at);
	complete(&w->done);
}

/* ---- what the points call (through the header's symbol_get) ---- */

bool vscsim_race_gate_enter(const char *point,
			    struct vscsim_race_gate_waiter *w)
{
	char comm[TASK_COMM_LEN];
	struct rg_point *p;
	bool queued = false;

	if (!rg_valid_name(point))
		return false;
	get_task_comm(comm, current);

	spin_lock(&rg_lock);
	if (rg_closing)
		goto out;
	p = rg_find_or_add_locked(point);
	if (!p)
		goto out;
	p->hits++;
	if (p->state != RG_ARMED)
		goto out;
	p->state = RG_HELD;
	p->holds++;
	p->waiter = w;
	p->pid = task_pid_nr(current);
	memcpy(p->comm, comm, sizeof(p->comm));
	p->held_at = ktime_get();
	p->held_ms = 0;
	w->timeout = msecs_to_jiffies(p->timeout_ms);
	queued = true;
out:
	spin_unlock(&rg_lock);
	return queued;
}
EXPORT_SYMBOL_GPL(vscsim_race_gate_enter);

void vscsim_race_gate_leave(struct vscsim_race_gate_waiter *w, long left)
{
	unsigned int i;

	spin_lock(&rg_lock);
	for (i = 0; i < rg_nr_points; i++) {
		if (rg_points[i].waiter != w)
			continue;
		rg_let_go_locked(&rg_points[i],
				 left < 0 ? RG_KILLED : RG_TIMED_OUT);
		break;
	}
	/* Not found: the host let it go meanwhile; that stands. */
	spin_unlock(&rg_lock);
}
EXPORT_SYMBOL_GPL(vscsim_race_gate_leave);

/* ---- control files ---- */

/*
 * Copies a command (at most RG_CMD_MAX - 1 bytes) and splits it into at most
 * two words: the point's name and an optional number.
 */
static int rg_parse(const char __user *ubuf, size_t len, char *buf,
		    char **name, char **arg)
{
	char *s;

	if (!len || len >= RG_CMD_MAX)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	s = strim(buf);
	*name = strsep(&s, " \t");
	*arg = NULL;
	if (s) {
		s = skip_spaces(s);
		*arg = strsep(&s, " \t");
		if (s && *skip_spaces(s))
			return -EINVAL;
	}
	if (!**name)
		return -EINVAL;
	return 0;
}

static ssize_t rg_arm_write(struct file *f, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char buf[RG_CMD_MAX], *name, *arg;
	unsigned int ms = READ_ONCE(rg_timeout_ms);
	struct rg_point *p;
	int ret;

	ret = rg_parse(ubuf, len, buf, &name, &arg);
	if (ret)
		return ret;
	if (!rg_valid_name(name))
		return -EINVAL;
	if (arg) {
		ret = kstrtouint(arg, 0, &ms);
		if (ret)
			return ret;
		if (!ms || ms > RG_MAX_TIMEOUT_MS)
			return -EINVAL;
	}

	spin_lock(&rg_lock);
	p = rg_find_or_add_locked(name);
	if (!p) {
		ret = -ENOSPC;
	} else if (p->state == RG_HELD) {
		ret = -EBUSY;
	} else {
		p->state = RG_ARMED;
		p->timeout_ms = ms;
		p->pid = 0;
		p->comm[0] = '\0';
		p->held_ms = 0;
	}
	spin_unlock(&rg_lock);
	return ret ? ret : len;
}

static ssize_t rg_release_write(struct file *f, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	char buf[RG_CMD_MAX], *name, *arg;
	struct rg_point *p;
	int ret;

	ret = rg_parse(ubuf, len, buf, &name, &arg);
	if (ret)
		return ret;
	if (arg)
		return -EINVAL;

	spin_lock(&rg_lock);
	p = rg_find_locked(name);
	if (!p)
		ret = -ENOENT;
	else if (p->state != RG_HELD)
		ret = -EAGAIN;	/* nobody is held (yet, or any more) */
	else
		rg_let_go_locked(p, RG_RELEASED);
	spin_unlock(&rg_lock);
	return ret ? ret : len;
}

static void rg_disarm_locked(struct rg_point *p)
{
	if (p->state == RG_HELD)
		rg_let_go_locked(p, RG_RELEASED);
	else if (p->state == RG_ARMED)
		p->state = RG_IDLE;
}

static ssize_t rg_disarm_write(struct file *f, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	char buf[RG_CMD_MAX], *name, *arg;
	struct rg_point *p;
	unsigned int i;
	int ret;

	ret = rg_parse(ubuf, len, buf, &name, &arg);
	if (ret)
		return ret;
	if (arg)
		return -EINVAL;

	spin_lock(&rg_lock);
	if (!strcmp(name, "all")) {
		for (i = 0; i < rg_nr_points; i++)
			rg_disarm_locked(&rg_points[i]);
	} else {
		p = rg_find_locked(name);
		if (p)
			rg_disarm_locked(p);
		else
			ret = -ENOENT;
	}
	spin_unlock(&rg_lock);
	return ret ? ret : len;
}

static int rg_state_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	spin_lock(&rg_lock);
	for (i = 0; i < rg_nr_points; i++) {
		const struct rg_point *p = &rg_points[i];
		s64 ms = p->state == RG_HELD ?
			 ktime_ms_delta(ktime_get(), p->held_at) : p->held_ms;

		seq_printf(m,
			   "%s state=%s timeout_ms=%u hits=%llu holds=%llu pid=%d comm=%s held_ms=%lld\n",
			   p->name, rg_state_names[p->state], p->timeout_ms,
			   p->hits, p->holds, p->pid,
			   p->comm[0] ? p->comm : "-", ms);
	}
	spin_unlock(&rg_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(rg_state);

/*
 * .owner pins the module while a control file is open, so none of these
 * handlers runs after exit. The held thread never has one open.
 */
static const struct file_operations rg_arm_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = rg_arm_write,
	.llseek = noop_llseek,
};

static const struct file_operations rg_release_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = rg_release_write,
	.llseek = noop_llseek,
};

static const struct file_operations rg_disarm_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = rg_disarm_write,
	.llseek = noop_llseek,
};

/*
 * The self-test point: a module parameter, not a debugfs file, because a
 * sysfs write neither pins the module nor touches it after the file is
 * removed, so the module can be unloaded while the writer is held (module
 * teardown waits for the write to return before the code goes).
 */
static int rg_selftest_set(const char *val, const struct kernel_param *kp)
{
	char name[RG_NAME_MAX + 1];
	char *s;

	if (strscpy(name, skip_spaces(val), sizeof(name)) < 0)
		return -EINVAL;
	s = strim(name);
	if (!rg_valid_name(s))
		return -EINVAL;
	if (!READ_ONCE(rg_ready))
		return -EAGAIN;
	vscsim_race_gate_point(s);
	return 0;
}

static const struct kernel_param_ops rg_selftest_ops = {
	.set = rg_selftest_set,
};

module_param_cb(selftest, &rg_selftest_ops, NULL, 0200);
MODULE_PARM_DESC(selftest,
		 "Write a point's name: pass that point in the writer's context");

static int __init rg_init(void)
{
	rg_dir = debugfs_create_dir("vscsim_race_gate", NULL);
	debugfs_create_file("arm", 0200, rg_dir, NULL, &rg_arm_fops);
	debugfs_create_file("release", 0200, rg_dir, NULL, &rg_release_fops);
	debugfs_create_file("disarm", 0200, rg_dir, NULL, &rg_disarm_fops);
	debugfs_create_file("state", 0444, rg_dir, NULL, &rg_state_fops);
	WRITE_ONCE(rg_ready, true);
	return 0;
}

static void __exit rg_exit(void)
{
	unsigned int i;

	WRITE_ONCE(rg_ready, false);
	/* Nobody stays held: every waiter goes, and no new one is queued. */
	spin_lock(&rg_lock);
	rg_closing = true;
	for (i = 0; i < rg_nr_points; i++)
		if (rg_points[i].state == RG_HELD)
			rg_let_go_locked(&rg_points[i], RG_RELEASED);
	spin_unlock(&rg_lock);
	debugfs_remove_recursive(rg_dir);
}

module_init(rg_init);
module_exit(rg_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vscsim race gates: hold a thread at a named point until the host releases it");
