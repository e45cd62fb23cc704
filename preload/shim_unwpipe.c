/*
** shim_unwpipe.c: pipe2, read and close hooks that keep libunwind's
** validation pipe away from the program's fds (below).
*/
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_real.h"

/* ---- libunwind's own fds ------------------------------------------------

libunwind validates memory it is unsure of by writing a byte of it into a
pipe it keeps open for the life of the process (mincore/msync, then a read
of the pipe's read end and a write to its write end; libunwind 1.6 on
x86-64), and when the read fails it closes both numbers and makes a new
pipe. The program does not know those fds: after its closefrom(3) and a
new open() on fd 3, that read took a byte of the program's file, the close
closed it, and the write could have put a byte of stack into it. So the
pipe is made above the program's range like the spool's fd, and while the
shim is at work (guard set), a read of either end or a close of either
number first checks (fstat: the pipe's inode) that the number still names
that pipe: if not, the read fails with EBADF (libunwind then makes a new
pipe) and the close does nothing. Only calls made from libunwind's code
while the shim is at work are looked at (a signal handler of the program
that runs then is left alone); the others pass straight through. */

static int unw_pipe[2] = {-1, -1};
static uint64_t unw_pipe_ino[2];

/* Whether the hook was called from libunwind's code. */
static inline int from_libunwind(const void *ra) {
  return (uintptr_t)ra >= g_shim.unw_lo && (uintptr_t)ra < g_shim.unw_hi;
}

static int unw_pipe_fd(int fd) {
  return fd >= 0 && (fd == __atomic_load_n(&unw_pipe[0], __ATOMIC_RELAXED) ||
                     fd == __atomic_load_n(&unw_pipe[1], __ATOMIC_RELAXED));
}

/* Whether fd (one of the pipe's numbers) still names the pipe made there. */
static int unw_pipe_ok(int fd) {
  struct stat st;
  int k = fd == unw_pipe[0] ? 0 : 1;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (uint64_t)st.st_ino == unw_pipe_ino[k];
}

LR_EXPORT int pipe2(int fds[2], int flags) {
  if (lr_shim_booting()) lr_shim_resolve();
  int r = lr_real.pipe2 ? lr_real.pipe2(fds, flags) : (int)syscall(SYS_pipe2, fds, flags);
  if (r != 0 || !lr_tls.guard || !from_libunwind(__builtin_return_address(0))) return r;
  /* libunwind's pipe, made while the shim is at work */
  int e = errno;
  for (int k = 0; k < 2; k++) {
    fds[k] = lr_fd_move_high(fds[k]);
    struct stat st;
    unw_pipe_ino[k] = fstat(fds[k], &st) == 0 ? (uint64_t)st.st_ino : 0;
    __atomic_store_n(&unw_pipe[k], fds[k], __ATOMIC_RELEASE);
  }
  errno = e;
  return 0;
}

LR_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  if (__builtin_expect(lr_tls.guard, 0) && unw_pipe_fd(fd) &&
      from_libunwind(__builtin_return_address(0)) &&
      !(unw_pipe_ok(unw_pipe[0]) && unw_pipe_ok(unw_pipe[1]))) {
    errno = EBADF; /* not the pipe any more: never touch the program's file */
    return -1;
  }
  if (__builtin_expect(!lr_real.read, 0)) return syscall(SYS_read, fd, buf, n);
  return lr_real.read(fd, buf, n);
}

LR_EXPORT int close(int fd) {
  if (__builtin_expect(lr_tls.guard, 0) && unw_pipe_fd(fd) &&
      from_libunwind(__builtin_return_address(0)) && !unw_pipe_ok(fd))
    return 0; /* the number is the program's now (or nobody's) */
  if (__builtin_expect(!lr_real.close, 0)) return (int)syscall(SYS_close, fd);
  return lr_real.close(fd);
}
