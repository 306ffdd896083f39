/*
 * vtest.h - the project's tiny test harness (header only).
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_EQ(err, VNV_OK); }
 *   int main(void) { RUN(test_something); return vtest_summary(); }
 *
 * A failed CHECK prints file:line and the expression and the test goes on, so one run
 * reports every failure. vtest_summary() prints "N passed, N failed" (checks, not tests)
 * and returns the process exit status.
 */
#ifndef VTEST_H
#define VTEST_H

#include <stdio.h>
#include <string.h>

#include "vnvheap.h"

#if VNV_MINIMAL
/* The minimal profile leaves vnv_check out: the tests that run there (tests/CMakeLists.txt)
 * still assert every result against their models and images; their consistency checks
 * pass through. */
static inline int vtest_no_check(struct vnv_heap *h) { return h ? VNV_OK : VNV_ERR_INVAL; }
#define vnv_check vtest_no_check
#endif

static unsigned vtest_passed, vtest_failed;
static const char *vtest_current = "";

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            vtest_passed++;                                                                \
        } else {                                                                           \
            vtest_failed++;                                                                \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__,         \
                    vtest_current, #cond);                                                 \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long vtest_a_ = (long long)(a), vtest_b_ = (long long)(b);                    \
        if (vtest_a_ == vtest_b_) {                                                        \
            vtest_passed++;                                                                \
        } else {                                                                           \
            vtest_failed++;                                                                \
            fprintf(stderr, "%s:%d: [%s] CHECK_EQ failed: %s == %s (%lld != %lld)\n",     \
                    __FILE__, __LINE__, vtest_current, #a, #b, vtest_a_, vtest_b_);        \
        }                                                                                  \
    } while (0)

/* Stop the current test function when a precondition fails (later checks would crash). */
#define REQUIRE(cond)                                                                      \
    do {                                                                                   \
        int vtest_ok_ = !!(cond); /* evaluated once */                                     \
        CHECK(vtest_ok_ && #cond);                                                         \
        if (!vtest_ok_)                                                                    \
            return;                                                                        \
    } while (0)

#define RUN(fn)                                                                            \
    do {                                                                                   \
        vtest_current = #fn;                                                               \
        unsigned vtest_f0_ = vtest_failed;                                                 \
        fn();                                                                              \
        fprintf(stderr, "%-48s %s\n", #fn, vtest_failed == vtest_f0_ ? "ok" : "FAILED");  \
    } while (0)

static int vtest_summary(void)
{
    printf("%u passed, %u failed\n", vtest_passed, vtest_failed);
    return vtest_failed ? 1 : 0;
}

#endif /* VTEST_H */
