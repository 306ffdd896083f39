/*
 * sections.c - the bottom of the core: critical sections (the only synchronisation with
 * the power-failure interrupt), the budget counter and the RAM buffer's canary.
 *
 * The interrupt only ever reads `busy`; normal code owns it. Leaving the outermost section
 * runs a checkpoint an interrupt deferred meanwhile: the one call that goes up the layers.
 */
#include "internal.h"

/* The canary at the buffer's start: the little-endian words 0x43564E56, 0x59524E41 (its
 * bytes, compared as one string: two memory calls rather than eight byte stores and loads). */
static const char canary[8] = {'V', 'N', 'V', 'C', 'A', 'N', 'R', 'Y'};

/* ---- critical sections ------------------------------------------------------------------- */

/* The power-failure interrupt only ever reads `busy`; normal code owns it. */
void sec_enter(struct vnv_heap *h)
{
    h->busy++;
    BARRIER();
}

void sec_leave(struct vnv_heap *h)
{
    BARRIER();
    h->busy--;
    BARRIER();
    if (!h->busy && h->pending) {
        h->pending = 0;
        (void)persist_deferred(h); /* the deferred checkpoint runs here */
    }
}

void charge(struct vnv_heap *h, uint32_t bytes)
{
    h->used += bytes;
    if (h->used > h->st.peak_checkpoint_bytes)
        h->st.peak_checkpoint_bytes = h->used;
}

void canary_write(struct vnv_heap *h) { memcpy(h->buf, canary, sizeof canary); }

int canary_ok(const struct vnv_heap *h) { return memcmp(h->buf, canary, sizeof canary) == 0; }
