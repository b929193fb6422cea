// SPDX-License-Identifier: GPL-2.0
/*
 * The "vmbus" bus: hv_drivers register on it, every offered channel becomes
 * an hv_device named by its instance GUID, and the driver core matches them
 * by the drivers' id tables (or driver_override), binds and unbinds them
 * (also through sysfs), and sends the uevents whose MODALIAS
 * ("vmbus:" + the 16 interface-GUID bytes in hex) loads a driver.
 */
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "vmbus_priv.h"

/* driver_override matches without an id: the driver gets this one. */
static const struct hv_vmbus_device_id vsv_null_id;

static const struct hv_vmbus_device_id *
vsv_match_id(const struct hv_vmbus_device_id *id, const guid_t *guid)
{
	if (!id)
		return NULL;
	for (; !guid_is_null(&id->guid); id++)
		if (guid_equal(&id->guid, guid))
			return id;
	return NULL;
}

static const struct hv_vmbus_device_id *vsv_get_id(struct hv_driver *drv,
						   struct hv_device *dev)
{
	const struct hv_vmbus_device_id *id;

	if (dev->driver_override && strcmp(dev->driver_override, drv->name))
		return NULL;
	id = vsv_match_id(drv->id_table, &dev->dev_type);
	if (!id && dev->driver_override)
		id = &vsv_null_id;
	return id;
}

static int vsv_bus_match(struct device *device, struct device_driver *driver)
{
	struct hv_driver *drv = drv_to_hv_drv(driver);

	/* No hvsock channels are ever offered on this bus. */
	if (drv->hvsock)
		return 0;
	return !!vsv_get_id(drv, device_to_hv_device(device));
}

static int vsv_bus_probe(struct device *device)
{
	struct hv_driver *drv = drv_to_hv_drv(device->driver);
	struct hv_device *dev = device_to_hv_device(device);
	int ret;

	if (!drv->probe)
		return -ENODEV;
	if (READ_ONCE(dev->channel->rescind))
		return -ENODEV;
	ret = drv->probe(dev, vsv_get_id(drv, dev));
	if (ret) {
		dev_err_ratelimited(device, "probe by %s failed: %d\n", drv->name, ret);
		return ret;
	}
	dev->channel->probe_done = true;
	return 0;
}

static void vsv_bus_remove(struct device *device)
{
	struct hv_driver *drv = drv_to_hv_drv(device->driver);

	if (drv->remove)
		drv->remove(device_to_hv_device(device));
}

static void vsv_bus_shutdown(struct device *device)
{
	struct hv_driver *drv;

	if (!device->driver)
		return;
	drv = drv_to_hv_drv(device->driver);
	if (drv->shutdown)
		drv->shutdown(device_to_hv_device(device));
}

static int vsv_bus_uevent(struct device *device, struct kobj_uevent_env *env)
{
	struct hv_device *dev = device_to_hv_device(device);

	return add_uevent_var(env, "MODALIAS=vmbus:%*phN", UUID_SIZE, &dev->dev_type);
}

/* ---- device attributes (the ones hv_vmbus has that apply here) ---- */

static ssize_t id_show(struct device *device, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", device_to_hv_device(device)->channel->offermsg.child_relid);
}
static DEVICE_ATTR_RO(id);

static ssize_t state_show(struct device *device, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", device_to_hv_device(device)->channel->state);
}
static DEVICE_ATTR_RO(state);

static ssize_t monitor_id_show(struct device *device, struct device_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%d\n", device_to_hv_device(device)->channel->offermsg.monitorid);
}
static DEVICE_ATTR_RO(monitor_id);

static ssize_t class_id_show(struct device *device, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "{%pUl}\n", &device_to_hv_device(device)->dev_type);
}
static DEVICE_ATTR_RO(class_id);

static ssize_t device_id_show(struct device *device, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "{%pUl}\n", &device_to_hv_device(device)->dev_instance);
}
static DEVICE_ATTR_RO(device_id);

static ssize_t modalias_show(struct device *device, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "vmbus:%*phN\n", UUID_SIZE,
			  &device_to_hv_device(device)->dev_type);
}
static DEVICE_ATTR_RO(modalias);

static ssize_t vendor_show(struct device *device, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%x\n", device_to_hv_device(device)->vendor_id);
}
static DEVICE_ATTR_RO(vendor);

static ssize_t device_show(struct device *device, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "0x%x\n", device_to_hv_device(device)->device_id);
}
static DEVICE_ATTR_RO(device);

static ssize_t driver_override_store(struct device *device, struct device_attribute *attr,
				     const char *buf, size_t count)
{
	int ret;

	ret = driver_set_override(device, &device_to_hv_device(device)->driver_override,
				  buf, count);
	return ret ? ret : count;
}

static ssize_t driver_override_show(struct device *device, struct device_attribute *attr,
				    char *buf)
{
	ssize_t len;

	device_lock(device);
	len = sysfs_emit(buf, "%s\n", device_to_hv_device(device)->driver_override);
	device_unlock(device);
	return len;
}
static DEVICE_ATTR_RW(driver_override);

static struct attribute *vsv_dev_attrs[] = {
	&dev_attr_id.attr,
	&dev_attr_state.attr,
	&dev_attr_monitor_id.attr,
	&dev_attr_class_id.attr,
	&dev_attr_device_id.attr,
	&dev_attr_modalias.attr,
	&dev_attr_vendor.attr,
	&dev_attr_device.attr,
	&dev_attr_driver_override.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vsv_dev);

static struct bus_type vsv_bus_type = {
	.name = "vmbus",
	.match = vsv_bus_match,
	.probe = vsv_bus_probe,
	.remove = vsv_bus_remove,
	.shutdown = vsv_bus_shutdown,
	.uevent = vsv_bus_uevent,
	.dev_groups = vsv_dev_groups,
};

/* ---- drivers ---- */

/**
 * __vmbus_driver_register - register a VSC driver on the vmbus bus
 * @hv_driver: the driver; name, id_table, probe and remove set
 * @owner: its module
 * @mod_name: its module's name
 *
 * Return: 0 or a negative errno from driver_register().
 */
int __vmbus_driver_register(struct hv_driver *hv_driver, struct module *owner,
			    const char *mod_name)
{
	hv_driver->driver.name = hv_driver->name;
	hv_driver->driver.owner = owner;
	hv_driver->driver.mod_name = mod_name;
	hv_driver->driver.bus = &vsv_bus_type;
	spin_lock_init(&hv_driver->dynids.lock);
	INIT_LIST_HEAD(&hv_driver->dynids.list);
	return driver_register(&hv_driver->driver);
}
EXPORT_SYMBOL_GPL(__vmbus_driver_register);

void vmbus_driver_unregister(struct hv_driver *hv_driver)
{
	driver_unregister(&hv_driver->driver);
}
EXPORT_SYMBOL_GPL(vmbus_driver_unregister);

/* ---- devices ---- */

static void vsv_device_release(struct device *device)
{
	struct hv_device *dev = device_to_hv_device(device);

	if (dev->channel)
		vsv_channel_free(dev->channel);
	kfree(dev->driver_override);
	kfree(dev);
}

/* Creates and registers the hv_device of a new primary channel; chan_mutex held. */
int vsv_device_add(struct vmbus_channel *channel)
{
	struct hv_device *dev;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->channel = channel;
	guid_copy(&dev->dev_type, &channel->offermsg.offer.if_type);
	guid_copy(&dev->dev_instance, &channel->offermsg.offer.if_instance);
	dev->vendor_id = PCI_VENDOR_ID_MICROSOFT;
	dev->device_id = channel->device_id;

	device_initialize(&dev->device);
	dev->device.bus = &vsv_bus_type;
	dev->device.parent = vsv.parent;
	dev->device.release = vsv_device_release;
	dev->device.dma_parms = &dev->dma_parms;
	dev->device.dma_mask = &dev->dma_mask;
	dma_set_mask(&dev->device, DMA_BIT_MASK(64));
	ret = dev_set_name(&dev->device, "%pUl", &dev->dev_instance);
	if (ret)
		goto err_put_device;

	channel->device_obj = dev;
	ret = device_add(&dev->device);
	if (ret) {
		channel->device_obj = NULL;
		goto err_put_device;
	}
	return 0;

err_put_device:
	dev->channel = NULL;	/* the caller frees the channel */
	put_device(&dev->device);
	pr_err_ratelimited("vscsim_vmbus: cannot register relid %u: %d\n",
			   channel->offermsg.child_relid, ret);
	return ret;
}

/* Unregisters the device; the driver's remove runs before this returns. */
void vsv_device_remove(struct vmbus_channel *channel)
{
	device_unregister(&channel->device_obj->device);
}

/* ---- module ---- */

static int __init vsv_init(void)
{
	int ret;

	vsv.ctl_wq = alloc_ordered_workqueue("vscsim_vmbus_ctl", 0);
	if (!vsv.ctl_wq)
		return -ENOMEM;
	vsv.remove_wq = alloc_ordered_workqueue("vscsim_vmbus_remove", 0);
	if (!vsv.remove_wq) {
		ret = -ENOMEM;
		goto err_destroy_ctl_wq;
	}
	ret = bus_register(&vsv_bus_type);
	if (ret)
		goto err_destroy_remove_wq;
	ret = vsv_transport_register();
	if (ret)
		goto err_unregister_bus;
	return 0;

err_unregister_bus:
	bus_unregister(&vsv_bus_type);
err_destroy_remove_wq:
	destroy_workqueue(vsv.remove_wq);
err_destroy_ctl_wq:
	destroy_workqueue(vsv.ctl_wq);
	return ret;
}

static void __exit vsv_exit(void)
{
	vsv_transport_unregister();
	bus_unregister(&vsv_bus_type);
	destroy_workqueue(vsv.remove_wq);
	destroy_workqueue(vsv.ctl_wq);
}

module_init(vsv_init);
module_exit(vsv_exit);
MODULE_DESCRIPTION("VMBus client API over the vscsim paravirtual transport (ivshmem-doorbell)");
MODULE_LICENSE("GPL");
