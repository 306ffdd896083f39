/* errors.c - names of the error codes. */
#include "vnvheap/common.h"

/* The codes and, in the same order, their names packed one after the other, the name for
 * any other value last: one small table, not a string per case and a compare chain. */
static const signed char codes[] = {VNV_OK,          VNV_ERR_INVAL,  VNV_ERR_NOMEM,
                                    VNV_ERR_NOSPC,   VNV_ERR_IO,     VNV_ERR_BUSY,
                                    VNV_ERR_CORRUPT, VNV_ERR_BUDGET, VNV_ERR_NOHEAP,
                                    VNV_ERR_VERSION, VNV_PERSIST_DEFERRED};
static const char names[] = "VNV_OK\0VNV_ERR_INVAL\0VNV_ERR_NOMEM\0VNV_ERR_NOSPC\0VNV_ERR_IO\0"
                            "VNV_ERR_BUSY\0VNV_ERR_CORRUPT\0VNV_ERR_BUDGET\0VNV_ERR_NOHEAP\0"
                            "VNV_ERR_VERSION\0VNV_PERSIST_DEFERRED\0VNV_ERR_UNKNOWN";

const char *vnv_strerror(int err)
{
    const char *p = names;
    for (unsigned i = 0; i < sizeof codes && codes[i] != err; i++)
        while (*p++) /* past this name and its NUL */
            ;
    return p;
}
