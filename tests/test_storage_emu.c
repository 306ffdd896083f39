/* test_storage_emu.c - the emulated FRAM: data, counters, cost model, power cuts, errors. */
#include <stdint.h>
#include <string.h>

#include "support/rng.h"
#include "vnvheap/storage_emu.h"
#include "vtest.h"

/* REQUIRE evaluates its argument twice: keep calls out of it. */
static int rc;

#define MEM_SIZE 256u
#define FILL 0xEEu

static uint8_t mem[MEM_SIZE];
static struct vnv_emu emu;
static struct vnv_storage st;

/* A custom cost model with distinct numbers so every term shows in the totals. */
static const struct vnv_emu_cost test_cost = {
    .read_tx_ns = 100, .read_byte_ns = 3, .write_tx_ns = 1000, .write_byte_ns = 7, .sync_ns = 50};

static void setup(const struct vnv_emu_cost *cost)
{
    memset(mem, FILL, sizeof(mem));
    CHECK_EQ(vnv_emu_init(&emu, mem, MEM_SIZE, cost), VNV_OK);
    memset(&st, 0, sizeof(st));
    vnv_emu_storage(&emu, &st);
}

/* 1 if mem[from, to) all equal FILL. */
static int untouched(uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (mem[i] != FILL)
            return 0;
    return 1;
}

static void test_init(void)
{
    uint8_t m[16];
    struct vnv_emu e;
    CHECK_EQ(vnv_emu_init(NULL, m, sizeof(m), NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_emu_init(&e, NULL, sizeof(m), NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_emu_init(&e, m, 0, NULL), VNV_ERR_INVAL);

    /* init must not clear the array: it is the non-volatile content. */
    memset(m, 0x5A, sizeof(m));
    rc = vnv_emu_init(&e, m, sizeof(m), NULL);
    REQUIRE(rc == VNV_OK);
    CHECK(e.mem == m);
    CHECK_EQ(e.size, sizeof(m));
    CHECK_EQ(m[0], 0x5A);
    CHECK_EQ(m[15], 0x5A);
    CHECK_EQ(e.cost.write_tx_ns, 0);
    CHECK_EQ(vnv_emu_power_is_off(&e), 0);

    struct vnv_storage s;
    vnv_emu_storage(&e, &s);
    CHECK(s.ctx == &e);
    CHECK_EQ(s.size, sizeof(m));
    CHECK(s.read && s.write && s.writev && s.sync);
}

static void test_round_trip(void)
{
    setup(NULL);
    struct rng r;
    rng_seed(&r, 1234);
    uint8_t shadow[MEM_SIZE];
    memcpy(shadow, mem, sizeof(shadow));
    for (int i = 0; i < 500; i++) {
        uint8_t buf[64];
        uint32_t len = 1 + rng_below(&r, sizeof(buf));
        uint32_t off = rng_below(&r, MEM_SIZE - len + 1);
        rng_fill(&r, buf, len);
        CHECK_EQ(vnv_storage_write(&st, off, buf, len), VNV_OK);
        memcpy(shadow + off, buf, len);

        uint8_t back[64];
        uint32_t rlen = 1 + rng_below(&r, sizeof(back));
        uint32_t roff = rng_below(&r, MEM_SIZE - rlen + 1);
        CHECK_EQ(vnv_storage_read(&st, roff, back, rlen), VNV_OK);
        CHECK(memcmp(back, shadow + roff, rlen) == 0);
    }
    CHECK(memcmp(mem, shadow, MEM_SIZE) == 0);

    /* A "reboot": a fresh emulator over the same array sees the same content. */
    struct vnv_emu e2;
    struct vnv_storage s2;
    rc = vnv_emu_init(&e2, mem, MEM_SIZE, NULL);
    REQUIRE(rc == VNV_OK);
    vnv_emu_storage(&e2, &s2);
    uint8_t all[MEM_SIZE];
    CHECK_EQ(vnv_storage_read(&s2, 0, all, MEM_SIZE), VNV_OK);
    CHECK(memcmp(all, shadow, MEM_SIZE) == 0);
}

static void test_counters_and_time(void)
{
    setup(&test_cost);
    uint8_t buf[40] = {1, 2, 3};
    CHECK_EQ(st.write(st.ctx, 0, buf, 40), VNV_OK);
    CHECK_EQ(st.write(st.ctx, 100, buf, 3), VNV_OK);
    CHECK_EQ(st.read(st.ctx, 0, buf, 10), VNV_OK);
    CHECK_EQ(st.sync(st.ctx), VNV_OK);
    CHECK_EQ(st.sync(st.ctx), VNV_OK);
    CHECK_EQ(emu.write_calls, 2);
    CHECK_EQ(emu.write_bytes, 43);
    CHECK_EQ(emu.read_calls, 1);
    CHECK_EQ(emu.read_bytes, 10);
    CHECK_EQ(emu.sync_calls, 2);
    CHECK_EQ(emu.lost_bytes, 0);
    CHECK_EQ(emu.modeled_ns, (1000 + 7 * 40) + (1000 + 7 * 3) + (100 + 3 * 10) + 2 * 50);

    /* Empty calls are not transactions. */
    uint64_t t = emu.modeled_ns;
    CHECK_EQ(st.write(st.ctx, 5, buf, 0), VNV_OK);
    CHECK_EQ(st.read(st.ctx, 5, buf, 0), VNV_OK);
    CHECK_EQ(st.writev(st.ctx, 5, NULL, 0), VNV_OK);
    CHECK_EQ(emu.write_calls, 2);
    CHECK_EQ(emu.read_calls, 1);
    CHECK_EQ(emu.modeled_ns, t);

    vnv_emu_reset_counters(&emu);
    CHECK_EQ(emu.write_calls + emu.read_calls + emu.sync_calls, 0);
    CHECK_EQ(emu.write_bytes + emu.read_bytes + emu.lost_bytes, 0);
    CHECK_EQ(emu.modeled_ns, 0);
    CHECK_EQ(emu.cost.write_tx_ns, 1000); /* the cost model stays */
}

static void test_writev_one_transaction(void)
{
    setup(&test_cost);
    const uint8_t a[] = {1, 2, 3}, b[] = {4}, c[] = {5, 6, 7, 8, 9};
    const struct vnv_iovec iov[] = {{a, 3}, {NULL, 0}, {b, 1}, {c, 5}};
    CHECK_EQ(vnv_storage_writev(&st, 50, iov, 4), VNV_OK);
    CHECK_EQ(emu.write_calls, 1);
    CHECK_EQ(emu.write_bytes, 9);
    CHECK_EQ(emu.modeled_ns, 1000 + 7 * 9);
    const uint8_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(memcmp(mem + 50, want, sizeof(want)) == 0);
    CHECK(untouched(0, 50));
    CHECK(untouched(59, MEM_SIZE));
}

/* Cut inside a 5-piece writev at every byte: exactly the prefix lands. */
static void test_torn_writev_every_offset(void)
{
    const uint8_t a[] = {0x11, 0x12, 0x13}, b[] = {0x21, 0x22, 0x23, 0x24, 0x25};
    const uint8_t c[] = {0x31}, d[] = {0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
    const struct vnv_iovec iov[] = {{a, 3}, {NULL, 0}, {b, 5}, {c, 1}, {d, 7}};
    const uint8_t all[] = {0x11, 0x12, 0x13, 0x21, 0x22, 0x23, 0x24, 0x25,
                           0x31, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
    const uint32_t total = sizeof(all), off = 20;

    for (uint32_t n = 0; n <= total + 1; n++) {
        setup(NULL);
        vnv_emu_cut_power_after(&emu, n);
        CHECK_EQ(vnv_emu_power_is_off(&emu), n == 0);
        CHECK_EQ(st.writev(st.ctx, off, iov, 5), VNV_OK);
        uint32_t landed = n < total ? n : total;
        CHECK(memcmp(mem + off, all, landed) == 0);
        CHECK(untouched(0, off));
        CHECK(untouched(off + landed, MEM_SIZE));
        CHECK_EQ(emu.lost_bytes, total - landed);
        CHECK_EQ(emu.write_bytes, total); /* the firmware believes all of it went out */
        /* The power goes off exactly when the budget is used up. */
        CHECK_EQ(vnv_emu_power_is_off(&emu), n <= total);
    }
}

static void test_cut_across_writes(void)
{
    setup(NULL);
    const uint8_t w[4] = {1, 2, 3, 4};
    vnv_emu_cut_power_after(&emu, 10);
    CHECK_EQ(st.write(st.ctx, 0, w, 4), VNV_OK);
    CHECK_EQ(st.write(st.ctx, 4, w, 4), VNV_OK);
    CHECK_EQ(vnv_emu_power_is_off(&emu), 0);
    CHECK_EQ(st.write(st.ctx, 8, w, 4), VNV_OK); /* torn: 2 of 4 land */
    CHECK_EQ(vnv_emu_power_is_off(&emu), 1);
    CHECK(memcmp(mem + 0, w, 4) == 0);
    CHECK(memcmp(mem + 4, w, 4) == 0);
    CHECK(memcmp(mem + 8, w, 2) == 0);
    CHECK(untouched(10, MEM_SIZE));
    CHECK_EQ(emu.lost_bytes, 2);
}

static void test_dropped_after_cut_and_power_on(void)
{
    setup(NULL);
    const uint8_t w[8] = {9, 8, 7, 6, 5, 4, 3, 2};
    memcpy(mem + 100, w, 8); /* content written before the cut, to read back */
    vnv_emu_cut_power_after(&emu, 0);
    CHECK_EQ(vnv_emu_power_is_off(&emu), 1);

    CHECK_EQ(st.write(st.ctx, 0, w, 8), VNV_OK);
    const struct vnv_iovec iov[] = {{w, 3}, {w, 5}};
    CHECK_EQ(st.writev(st.ctx, 40, iov, 2), VNV_OK);
    CHECK_EQ(st.sync(st.ctx), VNV_OK);
    CHECK(untouched(0, 100));
    CHECK(untouched(108, MEM_SIZE));
    CHECK_EQ(emu.lost_bytes, 16);
    CHECK_EQ(emu.write_calls, 2);

    /* Reads keep working. */
    uint8_t back[8];
    CHECK_EQ(st.read(st.ctx, 100, back, 8), VNV_OK);
    CHECK(memcmp(back, w, 8) == 0);

    /* Power on: writes land again and the cut is disarmed. */
    vnv_emu_power_on(&emu);
    CHECK_EQ(vnv_emu_power_is_off(&emu), 0);
    CHECK_EQ(emu.cut_armed, 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(st.write(st.ctx, 0, w, 8), VNV_OK);
    CHECK(memcmp(mem, w, 8) == 0);
    CHECK_EQ(vnv_emu_power_is_off(&emu), 0);
    CHECK_EQ(emu.lost_bytes, 16);

    /* Arming again while the power is on cuts again. */
    vnv_emu_cut_power_after(&emu, 3);
    CHECK_EQ(st.write(st.ctx, 200, w, 8), VNV_OK);
    CHECK(memcmp(mem + 200, w, 3) == 0);
    CHECK(untouched(203, 208));
    CHECK_EQ(vnv_emu_power_is_off(&emu), 1);
}

static void test_one_shot_failures(void)
{
    const uint8_t w[4] = {1, 2, 3, 4};
    for (uint32_t k = 1; k <= 3; k++) {
        /* read */
        setup(&test_cost);
        vnv_emu_fail_read_at(&emu, k);
        for (uint32_t i = 1; i <= k + 1; i++) {
            uint8_t back[4] = {0xA5, 0xA5, 0xA5, 0xA5};
            int err = st.read(st.ctx, 0, back, 4);
            if (i == k) {
                CHECK_EQ(err, VNV_ERR_IO);
                CHECK(back[0] == 0xA5 && back[3] == 0xA5); /* destination untouched */
            } else {
                CHECK_EQ(err, VNV_OK);
                CHECK_EQ(back[0], FILL);
            }
        }
        CHECK_EQ(emu.read_calls, k + 1);
        CHECK_EQ(emu.read_bytes, 4 * k);
        CHECK_EQ(emu.modeled_ns, 100 * (k + 1) + 3 * 4 * k);

        /* write, alternating write and writev: both count as write calls */
        setup(NULL);
        vnv_emu_fail_write_at(&emu, k);
        for (uint32_t i = 1; i <= k + 1; i++) {
            uint32_t off = 8 * i;
            int err;
            if (i % 2) {
                err = st.write(st.ctx, off, w, 4);
            } else {
                const struct vnv_iovec iov[] = {{w, 2}, {w + 2, 2}};
                err = st.writev(st.ctx, off, iov, 2);
            }
            if (i == k) {
                CHECK_EQ(err, VNV_ERR_IO);
                CHECK(untouched(off, off + 4));
            } else {
                CHECK_EQ(err, VNV_OK);
                CHECK(memcmp(mem + off, w, 4) == 0);
            }
        }
        CHECK_EQ(emu.write_calls, k + 1);
        CHECK_EQ(emu.write_bytes, 4 * k);

        /* sync */
        setup(NULL);
        vnv_emu_fail_sync_at(&emu, k);
        for (uint32_t i = 1; i <= k + 1; i++)
            CHECK_EQ(st.sync(st.ctx), i == k ? VNV_ERR_IO : VNV_OK);
        CHECK(untouched(0, MEM_SIZE));
    }

    /* k = 0 disarms; a failing write does not consume the power-cut budget. */
    setup(NULL);
    vnv_emu_fail_write_at(&emu, 2);
    vnv_emu_fail_write_at(&emu, 0);
    vnv_emu_fail_read_at(&emu, 1);
    vnv_emu_fail_read_at(&emu, 0);
    uint8_t back[4];
    CHECK_EQ(st.write(st.ctx, 0, w, 4), VNV_OK);
    CHECK_EQ(st.write(st.ctx, 0, w, 4), VNV_OK);
    CHECK_EQ(st.read(st.ctx, 0, back, 4), VNV_OK);
    vnv_emu_cut_power_after(&emu, 4);
    vnv_emu_fail_write_at(&emu, 1);
    CHECK_EQ(st.write(st.ctx, 10, w, 4), VNV_ERR_IO);
    CHECK_EQ(st.write(st.ctx, 10, w, 4), VNV_OK);
    CHECK(memcmp(mem + 10, w, 4) == 0);
    CHECK_EQ(emu.lost_bytes, 0);
}

static void test_sticky_write_failure(void)
{
    setup(NULL);
    const uint8_t w[4] = {1, 2, 3, 4};
    const struct vnv_iovec iov[] = {{w, 4}};
    vnv_emu_fail_all_writes(&emu, 1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(st.write(st.ctx, 0, w, 4), VNV_ERR_IO);
        CHECK_EQ(st.writev(st.ctx, 0, iov, 1), VNV_ERR_IO);
    }
    CHECK(untouched(0, MEM_SIZE));
    uint8_t back[4];
    CHECK_EQ(st.read(st.ctx, 0, back, 4), VNV_OK);
    CHECK_EQ(st.sync(st.ctx), VNV_OK);
    vnv_emu_fail_all_writes(&emu, 0);
    CHECK_EQ(st.write(st.ctx, 0, w, 4), VNV_OK);
    CHECK(memcmp(mem, w, 4) == 0);
}

static void test_out_of_range(void)
{
    setup(&test_cost);
    uint8_t buf[8] = {0};
    const struct vnv_iovec big[] = {{buf, 8}, {buf, UINT32_MAX - 4}};
    const struct vnv_iovec past[] = {{buf, 8}, {buf, 8}};
    const struct vnv_iovec nullbase[] = {{buf, 8}, {NULL, 1}};

    CHECK_EQ(st.read(st.ctx, MEM_SIZE, buf, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, MEM_SIZE - 1, buf, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, UINT32_MAX, buf, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, MEM_SIZE, buf, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, MEM_SIZE - 7, buf, 8), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, UINT32_MAX - 1, buf, 4), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.writev(st.ctx, 0, big, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.writev(st.ctx, MEM_SIZE - 15, past, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.writev(st.ctx, 0, nullbase, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.writev(st.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(vnv_storage_read(&st, MEM_SIZE, buf, 1), VNV_ERR_INVAL);

    /* The last byte and an empty range at the end are fine. */
    CHECK_EQ(st.write(st.ctx, MEM_SIZE - 1, buf, 1), VNV_OK);
    CHECK_EQ(st.read(st.ctx, MEM_SIZE, buf, 0), VNV_OK);
    CHECK_EQ(st.writev(st.ctx, MEM_SIZE - 16, past, 2), VNV_OK);

    /* Rejected calls are not transactions and do not tick a failure countdown. */
    CHECK_EQ(emu.write_calls, 2);
    CHECK_EQ(emu.read_calls, 0);
    CHECK_EQ(emu.modeled_ns, (1000 + 7) + (1000 + 7 * 16));
    vnv_emu_fail_write_at(&emu, 1);
    CHECK_EQ(st.write(st.ctx, MEM_SIZE, buf, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, 0, buf, 1), VNV_ERR_IO);
    CHECK(untouched(0, MEM_SIZE - 16));
}

/* |got - want| <= want * ppm / 1e6 */
static int within_ppm(uint64_t got, uint64_t want, uint64_t ppm)
{
    uint64_t d = got > want ? got - want : want - got;
    return d * 1000000u <= want * ppm;
}

static void test_profiles(void)
{
    static uint8_t big[8192], buf[8192]; /* device array, caller buffer */
    struct vnv_emu e;
    struct vnv_storage s;
    rc = vnv_emu_init(&e, big, sizeof(big), &vnv_emu_profile_paper);
    REQUIRE(rc == VNV_OK);
    vnv_emu_storage(&e, &s);

    /* Paper write: 350 + 311 * len ticks; compare in units of 0.5 ns (1 tick = 125). */
    CHECK_EQ(s.write(s.ctx, 0, buf, 1024), VNV_OK);
    CHECK(within_ppm(e.modeled_ns * 2, (350u + 311u * 1024u) * 125u, 10000)); /* 1 % */
    CHECK(within_ppm(e.modeled_ns * 2, (350u + 311u * 1024u) * 125u, 100));
    vnv_emu_reset_counters(&e);
    CHECK_EQ(s.write(s.ctx, 0, buf, 1), VNV_OK);
    CHECK(within_ppm(e.modeled_ns * 2, (350u + 311u) * 125u, 100));

    /* Paper read: the two measured points. */
    vnv_emu_reset_counters(&e);
    CHECK_EQ(s.read(s.ctx, 0, buf, 1024), VNV_OK);
    CHECK(within_ppm(e.modeled_ns * 2, 193788ull * 125u, 100));
    vnv_emu_reset_counters(&e);
    CHECK_EQ(s.read(s.ctx, 0, buf, 8192), VNV_OK);
    CHECK(within_ppm(e.modeled_ns * 2, 1519510ull * 125u, 100));

    /* SPI 40 MHz: read 4 + n bytes in one CS cycle, write 1 + 4 + n bytes in two. */
    rc = vnv_emu_init(&e, big, sizeof(big), &vnv_emu_profile_spi40);
    REQUIRE(rc == VNV_OK);
    CHECK_EQ(s.read(s.ctx, 0, buf, 1), VNV_OK);
    CHECK_EQ(e.modeled_ns, 1000 + 200 * (4 + 1));
    vnv_emu_reset_counters(&e);
    CHECK_EQ(s.write(s.ctx, 0, buf, 100), VNV_OK);
    CHECK_EQ(e.modeled_ns, 2 * 1000 + 200 * (1 + 4 + 100));
    vnv_emu_reset_counters(&e);
    CHECK_EQ(s.sync(s.ctx), VNV_OK);
    CHECK_EQ(e.modeled_ns, 0);

    /* Free: nothing costs anything; NULL means free. */
    rc = vnv_emu_init(&e, big, sizeof(big), &vnv_emu_profile_free);
    REQUIRE(rc == VNV_OK);
    CHECK_EQ(s.write(s.ctx, 0, buf, 8192), VNV_OK);
    CHECK_EQ(s.read(s.ctx, 0, buf, 8192), VNV_OK);
    CHECK_EQ(s.sync(s.ctx), VNV_OK);
    CHECK_EQ(e.modeled_ns, 0);
    CHECK_EQ(e.write_bytes, 8192);
}

int main(void)
{
    RUN(test_init);
    RUN(test_round_trip);
    RUN(test_counters_and_time);
    RUN(test_writev_one_transaction);
    RUN(test_torn_writev_every_offset);
    RUN(test_cut_across_writes);
    RUN(test_dropped_after_cut_and_power_on);
    RUN(test_one_shot_failures);
    RUN(test_sticky_write_failure);
    RUN(test_out_of_range);
    RUN(test_profiles);
    return vtest_summary();
}
