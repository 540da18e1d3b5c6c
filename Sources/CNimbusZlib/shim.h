#ifndef NIMBUS_CZLIB_SHIM_H
#define NIMBUS_CZLIB_SHIM_H
#include <zlib.h>
/* deflateInit2/inflateInit2 are macros; Swift sees these functions instead. */
static inline int nimbus_deflateInit2(z_streamp s, int level, int windowBits) {
    return deflateInit2(s, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
static inline int nimbus_inflateInit2(z_streamp s, int windowBits) {
    return inflateInit2(s, windowBits);
}
#endif
