#ifndef NIMBUS_CBZIP2_SHIM_H
#define NIMBUS_CBZIP2_SHIM_H
#include <bzlib.h>
#endif
