// SPDX-License-Identifier: GPL-2.0
/*
 * The UIO side of a device: registration, the handler's mapping (mmap,
 * page faults, VMA lifetime), open/release of the UIO file and the kick
 * the handler gives by writing to it.
 *
 * The mapping is one region: mailbox and ring (pages that come and go,
 * see ring_mem.c) followed by the data area (likewise, see data_area.c)
 * and, with zero_copy on, the zero-copy window (see zero_copy.c).  Ring
 * and data area PTEs are inserted by our fault handler
 * with vm_insert_page(), so the mapping is VM_MIXEDMAP and holds ordinary
 * page references there: get_user_pages() (O_DIRECT from the data area)
 * works.  Window PTEs are special and cannot be pinned.
 *
 * Every VMA of a device maps the same address_space, the one of the device
 * node the handler mapped: zaps reach them all.  The address_space is
 * taken from the first VMA and forgotten with the last one; the VMAs hold
 * the file, so it cannot go away while it is in use, and nothing pins the
 * node's inode beyond them (a container's /dev can be unmounted once its
 * handler is gone).  While any VMA exists, another node of the device
 * (another inode, another address_space) cannot map it.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include "tcmu.h"

/* The parent of every device's UIO device: /sys/devices/tcm_user */
static struct device *tcmu_root_device;

/* Zaps go to @mapping now (NULL: no VMA left).  Under vma_lock. */
static void __tcmu_uio_set_mapping(struct tcmu_dev *udev,
				   struct address_space *mapping)
{
	lockdep_assert_held(&udev->vma_lock);
	udev->mapping = mapping;
	tcmu_rmem_set_mapping(&udev->rmem, mapping);
	tcmu_da_set_mapping(&udev->da, mapping);
	tcmu_zc_set_mapping(&udev->zc, mapping);
}

/* A VMA split off or copied (fork) from one that exists */
static void tcmu_vma_open(struct vm_area_struct *vma)
{
	struct tcmu_dev *udev = vma->vm_private_data;

	kref_get(&udev->kref);
	mutex_lock(&udev->vma_lock);
	udev->nr_vmas++;
	mutex_unlock(&udev->vma_lock);
}

static void tcmu_vma_close(struct vm_area_struct *vma)
{
	struct tcmu_dev *udev = vma->vm_private_data;

	mutex_lock(&udev->vma_lock);
	if (!--udev->nr_vmas)
		__tcmu_uio_set_mapping(udev, NULL);
	mutex_unlock(&udev->vma_lock);
	tcmu_dev_put(udev);
}

/* Whether any VMA maps the device's memory */
bool tcmu_uio_mapped(struct tcmu_dev *udev)
{
	bool mapped;

	mutex_lock(&udev->vma_lock);
	mapped = udev->nr_vmas;
	mutex_unlock(&udev->vma_lock);
	return mapped;
}

static vm_fault_t tcmu_vma_fault(struct vm_fault *vmf)
{
	struct tcmu_dev *udev = vmf->vma->vm_private_data;
	pgoff_t ring_pages = udev->data_off >> PAGE_SHIFT;

	if (vmf->pgoff >= udev->mmap_pages)
		return VM_FAULT_SIGBUS;
	if (tcmu_zc_enabled(&udev->zc) && vmf->pgoff >= udev->zc.base)
		return tcmu_zc_fault(&udev->zc, vmf,
				     vmf->pgoff - udev->zc.base);
	if (vmf->pgoff >= ring_pages)
		return tcmu_da_fault(&udev->da, vmf, vmf->pgoff - ring_pages);

	return tcmu_rmem_fault(&udev->rmem, vmf, vmf->pgoff);
}

/* Only window PTEs are special, so only they come here. */
static vm_fault_t tcmu_vma_pfn_mkwrite(struct vm_fault *vmf)
{
	struct tcmu_dev *udev = vmf->vma->vm_private_data;

	if (vmf->pgoff < udev->zc.base || vmf->pgoff >= udev->mmap_pages)
		return VM_FAULT_SIGBUS;
	return tcmu_zc_mkwrite(&udev->zc, vmf, vmf->pgoff - udev->zc.base);
}

static const struct vm_operations_struct tcmu_vm_ops = {
	.open = tcmu_vma_open,
	.close = tcmu_vma_close,
	.fault = tcmu_vma_fault,
};

/*
 * With a zero-copy window: having pfn_mkwrite makes the mapping ask for
 * write notification, so PTEs start read-only and the window can refuse
 * writes to WRITE data.  Ring and data area pages upgrade on their first
 * write without asking (no page_mkwrite).
 */
static const struct vm_operations_struct tcmu_zc_vm_ops = {
	.open = tcmu_vma_open,
	.close = tcmu_vma_close,
	.fault = tcmu_vma_fault,
	.pfn_mkwrite = tcmu_vma_pfn_mkwrite,
};

static int tcmu_uio_mmap(struct uio_info *info, struct vm_area_struct *vma)
{
	struct tcmu_dev *udev = container_of(info, struct tcmu_dev, uio_info);
	struct address_space *mapping = vma->vm_file->f_mapping;
	int ret = 0;

	if (vma_pages(vma) != udev->mmap_pages || vma->vm_pgoff) {
		pr_err("%s: mmap must cover map0 exactly (%zu pages)\n",
		       udev->name, udev->mmap_pages);
		return -EINVAL;
	}
	/* the kernel never sees writes to a private copy */
	if (!(vma->vm_flags & VM_SHARED)) {
		pr_err("%s: mmap must be MAP_SHARED\n", udev->name);
		return -EINVAL;
	}

	mutex_lock(&udev->vma_lock);
	if (!udev->nr_vmas) {
		__tcmu_uio_set_mapping(udev, mapping);
	} else if (udev->mapping != mapping) {
		/* zaps could not reach the mappings of the other node */
		pr_warn("%s: still mapped through another device node\n",
			udev->name);
		ret = -EBUSY;
	}
	if (!ret) {
		vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP | VM_MIXEDMAP);
		vma->vm_ops = tcmu_zc_enabled(&udev->zc) ? &tcmu_zc_vm_ops :
							   &tcmu_vm_ops;
		vma->vm_private_data = udev;
		kref_get(&udev->kref);
		udev->nr_vmas++;
	}
	mutex_unlock(&udev->vma_lock);
	return ret;
}

/* One handler at a time */
static int tcmu_uio_open(struct uio_info *info, struct inode *inode)
{
	struct tcmu_dev *udev = container_of(info, struct tcmu_dev, uio_info);

	return test_and_set_bit(TCMU_DEV_OPEN, &udev->flags) ? -EBUSY : 0;
}

static int tcmu_uio_release(struct uio_info *info, struct inode *inode)
{
	struct tcmu_dev *udev = container_of(info, struct tcmu_dev, uio_info);

	tcmu_release_kept_bufs(udev);
	clear_bit(TCMU_DEV_OPEN, &udev->flags);
	return 0;
}

static int tcmu_uio_irqcontrol(struct uio_info *info, s32 irq_on)
{
	struct tcmu_dev *udev = container_of(info, struct tcmu_dev, uio_info);

	tcmu_complete_kick(udev);
	return 0;
}

/* Build "tcm-user/<hba>/<name>[/<dev_config>]" and swap it in. */
int tcmu_uio_set_name(struct tcmu_dev *udev)
{
	struct tcmu_hba *hba = udev->hba->hba_ptr;
	struct uio_info *info = &udev->uio_info;
	struct uio_device *idev = info->uio_dev;
	char *name, *old;

	if (udev->dev_config[0])
		name = kasprintf(GFP_KERNEL, "tcm-user/%u/%s/%s", hba->host_id,
				 udev->name, udev->dev_config);
	else
		name = kasprintf(GFP_KERNEL, "tcm-user/%u/%s", hba->host_id,
				 udev->name);
	if (!name)
		return -ENOMEM;

	/* uio's sysfs "name" reads info->name under info_lock */
	if (idev)
		mutex_lock(&idev->info_lock);
	old = (char *)info->name;
	info->name = name;
	if (idev)
		mutex_unlock(&idev->info_lock);
	kfree(old);
	return 0;
}

int tcmu_uio_register(struct tcmu_dev *udev)
{
	struct uio_info *info = &udev->uio_info;

	info->version = __stringify(TCMU_MAILBOX_VERSION);
	info->mem[0].name = "tcm-user command & data buffer";
	/*
	 * UIO publishes addr in world-readable sysfs; it would give away
	 * where the ring is in the kernel.  Our own mmap handler maps the
	 * region, so UIO never uses it, and handlers read only the size.
	 */
	info->mem[0].addr = 0;
	info->mem[0].size = (resource_size_t)udev->mmap_pages << PAGE_SHIFT;
	info->mem[0].memtype = UIO_MEM_NONE;
	info->irqcontrol = tcmu_uio_irqcontrol;
	info->irq = UIO_IRQ_CUSTOM;
	info->mmap = tcmu_uio_mmap;
	info->open = tcmu_uio_open;
	info->release = tcmu_uio_release;
	return uio_register_device(tcmu_root_device, info);
}

/*
 * After this no open, mmap or kick reaches the device through UIO; a file
 * still open on it gets errors from UIO.  uio_unregister_device() frees
 * the uio_device once nobody holds it, so forget the pointer: an enable
 * that is retried after a failure registers a new one.
 */
void tcmu_uio_unregister(struct tcmu_dev *udev)
{
	uio_unregister_device(&udev->uio_info);
	udev->uio_info.uio_dev = NULL;
	/* its release will not be called: the next handler may open */
	clear_bit(TCMU_DEV_OPEN, &udev->flags);
}

int tcmu_uio_init(void)
{
	tcmu_root_device = root_device_register("tcm_user");
	return PTR_ERR_OR_ZERO(tcmu_root_device);
}

void tcmu_uio_exit(void)
{
	root_device_unregister(tcmu_root_device);
}
