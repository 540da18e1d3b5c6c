#ifndef NIMBUS_CRSYNC_SHIM_H
#define NIMBUS_CRSYNC_SHIM_H
#include <stdio.h>
#include <librsync.h>
#endif
