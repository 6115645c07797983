/* fuzz_bundle.c: libFuzzer target for the bundle loader — everything a deployed or opened bundle
 * file goes through: HDF5 (via h5/, from a memory image), the root attributes, the graph JSON, the
 * declared-shape and weight-limit checks, every weight (checksums, conversion, finiteness),
 * /extra, and the wire description. It runs sl_bundle_check_image, the loader's own reading code
 * in its check mode (what the edge's check process runs on an upload: values into scratch memory),
 * so no execution needs a file or the model runtime. An input that starts with '{' is also given
 * to the wire and graph JSON parsers directly, so their deeper branches are reached without a
 * valid HDF5 file around them. Built and run by bench/fuzz_bundle.sh. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "common/log.h"
#include "common/status.h"
#include "h5/h5.h"
#include "model/bundle.h"
#include "model/wire_desc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- inputs on which libhdf5 itself loops or crashes, skipped ------------------------------- *
 * Debian 12's libhdf5 1.10.8 decodes a global heap collection (signature "GCOL", where variable-
 * length strings such as our root attributes and /model_config live) without bounds: a free-space
 * object of size 0 makes its decoding loop (H5HG__cache_heap_deserialize) never advance, and an
 * object that claims more bytes than the collection holds is later copied out of bounds
 * (H5HG_read). Both are the library's (tests/model/fuzz_found/ keeps one of each), and the edge
 * meets them in its check process, killed at a deadline; a fuzzer that hits them spends its time
 * restarting. So an input holding such a collection is skipped (not run, not kept): every "GCOL"
 * in it is decoded as 1.10.8 decodes it, with the superblock's size of lengths, and the image read
 * as zeros past its end as the core driver reads it. The test is conservative: it may skip an
 * input that HDF5 would have refused anyway, never one of the seeds (valid files). */
static uint64_t le_bytes(const uint8_t *d, size_t n, size_t at, int len)
{
    uint64_t v = 0;
    for (int i = (len > 8 ? 8 : len) - 1; i >= 0; i--)
        v = (v << 8) | (at + (size_t)i < n ? d[at + (size_t)i] : 0);
    return v;
}

/* The superblock's "size of lengths" (2 to 32 bytes), 0 when there is no superblock. */
static int size_of_lengths(const uint8_t *d, size_t n)
{
    for (size_t at = 0; at + 16 <= n; at = at ? at * 2 : 512)
        if (!memcmp(d + at, "\x89HDF\r\n\x1a\n", 8)) return d[at + (d[at + 8] < 2 ? 14 : 10)];
    return 0;
}

#define ALIGN8(x) (((x) + 7) / 8 * 8)

/* Objects of the collection decoded last: index -> size, valid where stamp == the decoding's
 * number (no clearing of 64 Ki entries per collection). The fuzzer runs on one thread. */
static uint64_t obj_size[65536];
static uint32_t obj_stamp[65536], stamp;

/* One collection at `at`: 1 when decoding it loops or overruns it; else its objects are noted. */
static int bad_collection(const uint8_t *d, size_t n, size_t at, int len)
{
    uint64_t hdr = ALIGN8(8 + (uint64_t)len), objhdr = ALIGN8(8 + (uint64_t)len);
    uint64_t size = le_bytes(d, n, at + 8, len);
    stamp++;
    for (uint64_t p = hdr; p < size;) {
        uint64_t left = size - p;
        if (left < objhdr) break;  /* too small for an object: free space */
        if (at + p >= n) return 1; /* zeros past the end: an empty free-space object */
        unsigned idx = (unsigned)le_bytes(d, n, at + p, 2);
        uint64_t osize = le_bytes(d, n, at + p + 8, len);
        if (idx == 0 ? osize == 0 || osize > left : osize > left - objhdr) return 1;
        obj_size[idx] = osize;
        obj_stamp[idx] = stamp;
        p += idx == 0 ? osize : objhdr + ALIGN8(osize);
    }
    return 0;
}

/* 1 when a collection loops or overruns, or when a variable-length reference to one (length 4
 * bytes, the collection's address, object index 4 bytes, as stored in attributes and datasets)
 * names an object that is not there (1.10.8 reads obj[index] unchecked) or is longer than the
 * reference says (it copies the object's bytes into a buffer sized by the reference).
 * References are found by their address, so only with 8-byte offsets and a superblock at 0 (our
 * files; others are not looked at), and only those whose length could be one (1 to the
 * collection's size, outside the collection: 8 bytes that happen to equal the address elsewhere
 * mostly are not). */
static int libhdf5_bad_heap(const uint8_t *d, size_t n)
{
    int len = size_of_lengths(d, n);
    if (len < 1) return 0;
    int refs = n >= 16 && !memcmp(d, "\x89HDF\r\n\x1a\n", 8) && d[d[8] < 2 ? 13 : 9] == 8;
    for (const uint8_t *g = d; (g = memmem(g, n - (size_t)(g - d), "GCOL", 4)); g++) {
        size_t at = (size_t)(g - d);
        if (bad_collection(d, n, at, len)) return 1;
        uint64_t end = at + le_bytes(d, n, at + 8, len); /* its own bytes are strings */
        uint8_t addr[8];
        for (int i = 0; i < 8; i++)
            addr[i] = (uint8_t)((uint64_t)at >> (8 * i));
        for (const uint8_t *r = d + 4; refs && r + 12 <= d + n; r++) {
            if (!(r = memmem(r, n - (size_t)(r - d), addr, 8)) || r + 12 > d + n) break;
            size_t q = (size_t)(r - d);
            if (q >= at && q < end) continue;
            uint64_t rlen = le_bytes(d, n, q - 4, 4), idx = le_bytes(d, n, q + 8, 4);
            if (rlen == 0 || rlen > le_bytes(d, n, at + 8, len)) continue; /* not a reference */
            if (!idx || idx > 65535 || obj_stamp[idx] != stamp || obj_size[idx] > rlen) return 1;
        }
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(0); /* unknown-key warnings of the graph JSON: quiet */
    /* A fuzzed file may declare up to 1 MiB of weights (the seeds have about 100 kB); beyond, the
     * limit refuses it. A larger limit lets mutated shapes make most executions read megabytes of
     * fill values, which tests nothing new and costs most of the time. */
    setenv("SL_MAX_WEIGHT_BYTES", "1048576", 1);
    /* Each execution opens an image: its metadata cache is reused from HDF5's free lists instead
     * of mapped and cleared again (most of an execution's time without this). */
    sl_h5_keep_free_lists();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (libhdf5_bad_heap(data, size)) return -1; /* skipped, and not kept in the corpus */
    sl_bundle_check_image(data, size, "fuzz", SL_BUNDLE_CHECK_WEIGHTS);
    if (size && data[0] == '{' && size < (1u << 16)) {
        char *text = malloc(size + 1);
        if (!text) return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        sl_wire_desc w;
        sl_wire_desc_parse(text, &w);
        sl_graph *g = NULL;
        if (sl_graph_from_json(text, &g) == SL_OK) sl_graph_free(g);
        free(text);
    }
    return 0;
}
