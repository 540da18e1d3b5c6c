#ifndef NIMBUS_CSQLITE_SHIM_H
#define NIMBUS_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
