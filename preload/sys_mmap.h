/*
** sys_mmap.h: mmap and munmap as raw system calls, for the shim's own
** memory (it must not go through the hooked libc mmap, nor show in the
** program's trace).
**
** Why a wrapper: syscall() is variadic, so an int argument (a literal 0
** offset, -1 fd, PROT_ and MAP_ flags) is passed without being widened to
** the 64-bit register the kernel reads. gcc happened to leave the upper
** half zero; clang did not, and a fork child's MAP_SHARED map of its spool
** header got offset 0x7fc400000000 and died of SIGBUS. Every argument is
** converted to long here, in the prototype, before the variadic call.
*/
#ifndef LR_SYS_MMAP_H
#define LR_SYS_MMAP_H

#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void *lr_sys_mmap(void *addr, size_t len, long prot, long flags, long fd,
                                long off) {
#if defined(SYS_mmap2) && !defined(SYS_mmap)
  return (void *)syscall(SYS_mmap2, addr, len, prot, flags, fd, off / 4096);
#else
  return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
#endif
}

static inline int lr_sys_munmap(void *addr, size_t len) {
  return (int)syscall(SYS_munmap, addr, len);
}

#endif
