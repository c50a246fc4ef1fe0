/*
 * Files: host files (one struct vm_file per host inode; an overlay once
 * opened for writing) and in-memory files (shmem objects, tmpfs files),
 * reference counted by the descriptors and VMAs that use them, and by the
 * kernel for pinned ones.  The page cache over them is pagecache.c,
 * writing back writeback.c.
 */
#include "kernel/vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/shmem_swap.h"

/* Super-block magics (include/uapi/linux/magic.h) of the file systems
 * whose file_operations have FOP_MMAP_SYNC: ext2/3/4 (one magic, served
 * by ext4) and xfs. */
#define EXT4_SUPER_MAGIC 0xEF53
#define XFS_SUPER_MAGIC  0x58465342

static bool fs_mmap_sync(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf))
		return false;
	return sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC;
}

static struct vm_file *find_inode(struct vm_kernel *k, uint32_t maj, uint32_t min, uint64_t ino)
{
	for (struct vm_list *e = k->files.next; e != &k->files; e = e->next) {
		struct vm_file *f = VM_CONTAINER_OF(e, struct vm_file, link);
		if (!f->shmem && f->ino == ino && f->dev_major == maj && f->dev_minor == min)
			return f;
	}
	return NULL;
}

/* The tmpfs file at path, or NULL. */
static struct vm_file *find_tmpfs(struct vm_kernel *k, const char *path)
{
	for (struct vm_list *e = k->files.next; e != &k->files; e = e->next) {
		struct vm_file *f = VM_CONTAINER_OF(e, struct vm_file, link);
		if (f->shmem && f->pinned && strcmp(f->path, path) == 0)
			return f;
	}
	return NULL;
}

/* Linux: do_filp_open() + the inode's i_size, i_sb->s_dev, i_ino. */
int vm_file_open(struct vm_kernel *k, const char *path, struct vm_file **out)
{
	struct stat st;

	*out = NULL;
	if (!path || !*path)
		return -ENOENT;
	struct vm_file *mem = find_tmpfs(k, path);
	if (mem) {
		mem->refs++;
		*out = mem;
		return 0;
	}
	if (stat(path, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	uint32_t maj = (uint32_t)major(st.st_dev), min = (uint32_t)minor(st.st_dev);
	struct vm_file *f = find_inode(k, maj, min, (uint64_t)st.st_ino);
	if (f) {
		f->refs++;
		*out = f;
		return 0;
	}
	int fd = -1;
	if (k->phys->data) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	f = vm_host_calloc(k->host, 1, sizeof(*f));
	char *copy = f ? vm_host_strdup(k->host, path) : NULL;
	if (!copy) {
		vm_host_free(k->host, f);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	f->path = copy;
	f->size = (uint64_t)st.st_size;
	f->dev_major = maj;
	f->dev_minor = min;
	f->ino = (uint64_t)st.st_ino;
	f->host_fd = fd;
	f->mmap_sync = fs_mmap_sync(path);
	f->refs = 1;
	f->warm = k->cfg.pagecache_warm;
	vm_u64map_init(&f->cache, k->host);
	vm_u64map_init(&f->written, k->host);
	vm_u64map_init(&f->uncached, k->host);
	vm_u64map_init(&f->swap, k->host);
	vm_list_add_tail(&f->link, &k->files);
	*out = f;
	return 0;
}

int vm_shmem_file_create(struct vm_kernel *k, const char *path, uint32_t dev_minor, uint64_t size,
			 struct vm_file **out)
{
	struct vm_file *f = vm_host_calloc(k->host, 1, sizeof(*f));
	char *copy = f ? vm_host_strdup(k->host, path) : NULL;

	*out = NULL;
	if (!copy) {
		vm_host_free(k->host, f);
		return -ENOMEM;
	}
	f->path = copy;
	f->size = size;
	f->dev_minor = dev_minor;
	f->ino = ++k->last_ino;
	f->host_fd = -1;
	f->shmem = true;
	f->refs = 1;
	vm_u64map_init(&f->cache, k->host);
	vm_u64map_init(&f->written, k->host);
	vm_u64map_init(&f->uncached, k->host);
	vm_u64map_init(&f->swap, k->host);
	vm_list_add_tail(&f->link, &k->files);
	*out = f;
	return 0;
}

int vm_tmpfs_create(struct vm_kernel *k, const char *path, uint64_t size, struct vm_file **out)
{
	struct vm_file *f;

	if (out)
		*out = NULL;
	if (!path || !*path || strlen(path) >= PATH_MAX || size > MAX_LFS_FILESIZE)
		return -EINVAL;
	if (find_tmpfs(k, path))
		return -EEXIST;
	int err = vm_shmem_file_create(k, path, VM_TMPFS_DEV_MINOR, size, &f);
	if (err)
		return err;
	f->pinned = true;       /* its reference: the directory entry */
	if (out)
		*out = f;
	return 0;
}

int vm_file_open_write(struct vm_kernel *k, struct vm_file *f, const char *path)
{
	(void)k;
	if (f->shmem || f->overlay)
		return 0;
	/* The host decides whether this user may write it (Linux: the
	 * permission check of the open); the bytes never go there. */
	if (access(path, W_OK))
		return errno == EROFS ? -EROFS : -EACCES;
	f->overlay = true;
	if (!f->pinned) {
		f->pinned = true;
		f->refs++;
	}
	return 0;
}

void vm_file_get(struct vm_file *f)
{
	f->refs++;
}

static void file_free(struct vm_kernel *k, struct vm_file *f)
{
	uint64_t pos = 0, index, buf;

	while (vm_u64map_next(&f->written, &pos, &index, &buf))
		vm_host_free(k->host, (void *)(uintptr_t)buf);
	vm_u64map_fini(&f->written);
	vm_u64map_fini(&f->uncached);
	vm_pagecache_release(k, f);
	vm_shmem_swap_free_range(k, f, 0, UINT64_MAX);     /* shmem_evict_inode() */
	vm_u64map_fini(&f->swap);
	vm_list_del(&f->link);
	if (f->host_fd >= 0)
		close(f->host_fd);
	vm_host_free(k->host, f->path);
	vm_host_free(k->host, f);
}

void vm_file_put(struct vm_kernel *k, struct vm_file *f)
{
	if (!f || !f->refs)
		return;
	if (--f->refs == 0)
		file_free(k, f);
}

void vm_files_release(struct vm_kernel *k)
{
	while (!vm_list_empty(&k->files))
		file_free(k, VM_CONTAINER_OF(k->files.next, struct vm_file, link));
}
