/* json.c - a minimal JSON writer into a fixed buffer (truncates silently when full). */
#include <string.h>

#include "bench.h"

void jw_init(struct jw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->need_comma = 0;
    if (cap)
        buf[0] = '\0';
}

static void put(struct jw *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap)
        n = w->cap > w->len + 1 ? w->cap - w->len - 1 : 0;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void jw_raw(struct jw *w, const char *s) { put(w, s, strlen(s)); }

/* need_comma is a bit stack: bit 0 = the current level has a value already. */
static void value_sep(struct jw *w)
{
    if (w->need_comma & 1)
        put(w, ",", 1);
    w->need_comma |= 1;
}

static void str_raw(struct jw *w, const char *s);

void jw_key(struct jw *w, const char *key)
{
    value_sep(w);
    str_raw(w, key);
    put(w, ":", 1);
    w->need_comma &= ~1; /* the value that follows must not add a comma */
}

static void jw_open_(struct jw *w, const char *c)
{
    value_sep(w);
    put(w, c, 1);
    w->need_comma <<= 1;
}

static void close_(struct jw *w, const char *c)
{
    put(w, c, 1);
    w->need_comma >>= 1;
    w->need_comma |= 1;
}

void jw_obj_begin(struct jw *w) { jw_open_(w, "{"); }
void jw_obj_end(struct jw *w) { close_(w, "}"); }
void jw_arr_begin(struct jw *w) { jw_open_(w, "["); }
void jw_arr_end(struct jw *w) { close_(w, "]"); }

void jw_str(struct jw *w, const char *s)
{
    value_sep(w);
    str_raw(w, s);
}

static void str_raw(struct jw *w, const char *s)
{
    put(w, "\"", 1);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') {
            char e[2] = {'\\', *s};
            put(w, e, 2);
        } else if ((unsigned char)*s >= 0x20) {
            put(w, s, 1);
        }
    }
    put(w, "\"", 1);
}

static void u64_text(uint64_t v, char *out)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

void jw_u64(struct jw *w, uint64_t v)
{
    char t[24];
    value_sep(w);
    u64_text(v, t);
    jw_raw(w, t);
}

void jw_i64(struct jw *w, int64_t v)
{
    char t[24];
    value_sep(w);
    if (v < 0) {
        put(w, "-", 1);
        u64_text((uint64_t)(-(v + 1)) + 1u, t);
    } else {
        u64_text((uint64_t)v, t);
    }
    jw_raw(w, t);
}

void jw_bool(struct jw *w, int v)
{
    value_sep(w);
    jw_raw(w, v ? "true" : "false");
}

void jw_fixed(struct jw *w, uint64_t num, uint64_t den, unsigned digits)
{
    char t[24];
    value_sep(w);
    if (!den) {
        jw_raw(w, "null");
        return;
    }
    uint64_t scale = 1;
    for (unsigned i = 0; i < digits; i++)
        scale *= 10u;
    /* round half up; num * scale must not overflow: callers pass ns-sized values */
    uint64_t q = num / den, r = num % den;
    uint64_t frac = (r * scale + den / 2u) / den;
    if (frac >= scale) {
        q++;
        frac -= scale;
    }
    u64_text(q, t);
    jw_raw(w, t);
    if (digits) {
        put(w, ".", 1);
        u64_text(frac, t);
        for (size_t k = strlen(t); k < digits; k++)
            put(w, "0", 1);
        jw_raw(w, t);
    }
}

void jw_kstr(struct jw *w, const char *key, const char *v)
{
    jw_key(w, key);
    jw_str(w, v);
}

void jw_ku64(struct jw *w, const char *key, uint64_t v)
{
    jw_key(w, key);
    jw_u64(w, v);
}

void jw_kbool(struct jw *w, const char *key, int v)
{
    jw_key(w, key);
    jw_bool(w, v);
}

void jw_kfixed(struct jw *w, const char *key, uint64_t num, uint64_t den, unsigned digits)
{
    jw_key(w, key);
    jw_fixed(w, num, den, digits);
}
