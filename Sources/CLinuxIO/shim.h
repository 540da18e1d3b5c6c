// Linux file calls Glibc's Swift module leaves out (they need _GNU_SOURCE).
#ifndef NIMBUS_CLINUXIO_SHIM_H
#define NIMBUS_CLINUXIO_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>

// Starts writeback of a file range without waiting for it (SYNC_FILE_RANGE_WRITE): a large
// write's final fsync then has little left to flush.
static inline int nimbus_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}
#endif
