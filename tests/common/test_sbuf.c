/* test_sbuf.c: the growing string buffer keeps every append, across reallocations. */
#include "common/sbuf.h"
#include "testutil.h"

int main(void)
{
    sl_sbuf b = {0};
    CHECK(b.s == NULL);
    sl_sbuf_printf(&b, "%s", "");
    CHECK(b.s != NULL);
    CHECK_STR(b.s, "");
    CHECK_EQ(b.len, 0);

    /* Many small appends cross the first and later capacities. */
    char want[20000];
    size_t w = 0;
    for (int i = 0; i < 2000; i++) {
        sl_sbuf_printf(&b, "v%d,", i);
        w += (size_t)snprintf(want + w, sizeof want - w, "v%d,", i);
    }
    CHECK(!b.oom);
    CHECK_EQ(b.len, w);
    CHECK_EQ(strlen(b.s), w);
    CHECK(!strcmp(b.s, want));
    CHECK(b.cap > b.len);

    /* One append larger than the doubled capacity. */
    char big[10000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t before = b.len;
    sl_sbuf_printf(&b, "%s", big);
    CHECK_EQ(b.len, before + sizeof big - 1);
    CHECK(b.s[b.len] == '\0');
    CHECK(b.s[before] == 'x' && b.s[b.len - 1] == 'x');

    sl_sbuf_free(&b);
    CHECK(b.s == NULL && b.len == 0 && b.cap == 0 && !b.oom);
    sl_sbuf_free(&b); /* a zeroed buffer is fine */

    /* After a failed append nothing more is added and the flag stays. */
    sl_sbuf c = {.oom = 1};
    sl_sbuf_printf(&c, "lost");
    CHECK(c.s == NULL && c.oom);
    return TU_DONE();
}
