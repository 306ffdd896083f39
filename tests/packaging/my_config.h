/* An override header for the packaging test: it changes struct vnv_heap (the free cache is
 * recorded in it), so a consumer compiled without it would disagree with the library. */
#define VNV_FREE_CACHE 2
