/* errors.c - names of the error codes. */
#include "vnvheap/common.h"

const char *vnv_strerror(int err)
{
    switch (err) {
    case VNV_OK: return "VNV_OK";
    case VNV_ERR_INVAL: return "VNV_ERR_INVAL";
    case VNV_ERR_NOMEM: return "VNV_ERR_NOMEM";
    case VNV_ERR_NOSPC: return "VNV_ERR_NOSPC";
    case VNV_ERR_IO: return "VNV_ERR_IO";
    case VNV_ERR_BUSY: return "VNV_ERR_BUSY";
    case VNV_ERR_CORRUPT: return "VNV_ERR_CORRUPT";
    case VNV_ERR_BUDGET: return "VNV_ERR_BUDGET";
    case VNV_ERR_NOHEAP: return "VNV_ERR_NOHEAP";
    case VNV_ERR_VERSION: return "VNV_ERR_VERSION";
    case VNV_PERSIST_DEFERRED: return "VNV_PERSIST_DEFERRED"; /* vnv_persist_all's 1 */
    default: return "VNV_ERR_UNKNOWN";
    }
}
