#ifndef NIMBUS_CLIBVIRT_SHIM_H
#define NIMBUS_CLIBVIRT_SHIM_H
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif
