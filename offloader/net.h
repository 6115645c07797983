/* net.h: TCP sockets with timeouts, connect with backoff, whole-buffer reads and writes.
 *
 * An sl_conn is one connected socket plus what every frame exchange on it needs: read and write
 * timeouts, an optional link shaper (uploads only; see shaper.h) and a send lock so that several
 * threads (a reader answering pings, workers sending results) never interleave two frames.
 */
#ifndef SL_OFFLOADER_NET_H
#define SL_OFFLOADER_NET_H

#include "offloader/shaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_conn {
    int fd;
    double read_timeout;  /* seconds; 0 = wait forever */
    double write_timeout; /* seconds; 0 = wait forever */
    sl_shaper *shaper;    /* borrowed; NULL = no shaping */
    uint64_t bytes_in, bytes_out;
    int eof;              /* set when the peer closed cleanly between frames */
    atomic_int frames_in; /* whole frames received (sl_proto_recv); readable from any thread */
    double deadline;      /* sl_now() time after which reads fail with SL_ETIMEOUT; 0 = none */
    pthread_mutex_t send_lock;
    char peer[64]; /* "127.0.0.1:40312", for messages */
} sl_conn;

/* Listens on host:port (host NULL or "" = all interfaces, port 0 = any free port), with
 * SO_REUSEADDR so a restarted server can take its port back at once. On success *fd is the
 * listening socket and *bound_port the actual port. On error nothing is left open. */
int sl_net_listen(const char *host, int port, int backlog, int *fd, int *bound_port);

/* Splits "HOST:PORT" (the last ':' separates; "[::1]:7070" for IPv6) into host (at most n bytes
 * with its NUL) and *port (0..65535). Returns SL_OK or SL_EARG naming what is wrong with s. */
int sl_net_hostport_parse(const char *s, char *host, size_t n, int *port);

/* One edge address of a list (sl_net_hostport_list). */
#define SL_NET_MAX_ADDRS 16
typedef struct sl_hostport {
    char host[256];
    int port;
} sl_hostport;

/* Splits "HOST:PORT[,HOST:PORT...]" (each entry as sl_net_hostport_parse; at most max entries,
 * none empty, none twice) into out[0..*n). Returns SL_OK or SL_EARG naming the entry that is
 * wrong and why (the list is then not usable). */
int sl_net_hostport_list(const char *s, sl_hostport *out, int max, int *n);

/* The connection waits a command line may set, as option callbacks (common/opt.h
 * SL_OPT_CALLBACK; `dest` is a double of seconds, `value` a duration such as "2s" or "500ms").
 * Each returns SL_OK with *dest set, or SL_EARG naming the option and its range (dest
 * unchanged):
 * - sl_net_opt_handshake_timeout: `edge --handshake-timeout`, the edge's deadline from accept to
 *   the end of a device's handshake (sl_edge_config.auth_timeout), SL_NET_HANDSHAKE_MIN_S to
 *   SL_NET_HANDSHAKE_MAX_S;
 * - sl_net_opt_reconnect_window: `device --reconnect-window`, how long after a working
 *   connection broke the device keeps reconnecting (sl_client_config.reconnect_window), 0 (only
 *   the connect attempts) to SL_NET_RECONNECT_MAX_S. */
#define SL_NET_HANDSHAKE_MIN_S 0.1
#define SL_NET_HANDSHAKE_MAX_S 3600.0
#define SL_NET_RECONNECT_MAX_S 86400.0
int sl_net_opt_handshake_timeout(void *dest, const char *value);
int sl_net_opt_reconnect_window(void *dest, const char *value);

/* Connects to host:port within timeout_s seconds (0 = system default). Returns SL_OK and *fd,
 * or SL_ENET / SL_ETIMEOUT with a message naming host:port and the reason. */
int sl_net_connect(const char *host, int port, double timeout_s, int *fd);

/* Like sl_net_connect but retries up to `attempts` times, sleeping base_delay_s, doubling each
 * time up to max_delay_s, with +-20% jitter so many devices do not reconnect in lockstep. The
 * last error is returned when every attempt fails. */
int sl_net_connect_backoff(const char *host, int port, double timeout_s, int attempts,
                           double base_delay_s, double max_delay_s, int *fd);

/* Initialises `c` around a connected fd (takes ownership of fd). */
void sl_conn_init(sl_conn *c, int fd, double read_timeout, double write_timeout);

/* Changes the read timeout (seconds, 0 = wait forever) of an initialised conn. */
void sl_conn_set_read_timeout(sl_conn *c, double seconds);

/* Sets an overall deadline for reads (an sl_now() time; 0 = none): a read still waiting for
 * bytes then fails with SL_ETIMEOUT however slowly the peer trickles them, unlike the read
 * timeout, which only bounds each wait for the next byte. Used for the handshake. */
void sl_conn_set_deadline(sl_conn *c, double deadline);

/* Shuts the socket down in both directions so blocked readers and writers return at once; the
 * fd stays valid until sl_conn_close. Safe to call from another thread. */
void sl_conn_shutdown(sl_conn *c);

/* Before closing after refusing a peer: stops sending (so the last frame, e.g. an ERROR, is
 * flushed with a FIN), then reads and discards what the peer still sends for up to timeout_s or
 * max_bytes. Closing at once with unread input would make the kernel send a reset, and the reset
 * can destroy the ERROR frame before the peer reads it. Does not close; the caller does. */
void sl_conn_linger(sl_conn *c, double timeout_s, size_t max_bytes);

/* Closes the fd and releases the lock; a closed or zeroed conn may be closed again. */
void sl_conn_close(sl_conn *c);

/* Reads exactly n bytes. Returns SL_OK; SL_ENET when the peer closed or reset (c->eof is set when
 * it closed before the first byte); SL_ETIMEOUT after read_timeout with no data or once the
 * deadline (sl_conn_set_deadline) has passed. */
int sl_conn_read_full(sl_conn *c, void *buf, size_t n);

/* Writes exactly n bytes (through the shaper if any), never raising SIGPIPE. Returns SL_OK,
 * SL_ENET or SL_ETIMEOUT. Callers sending a frame hold c->send_lock around all its parts. */
int sl_conn_write_full(sl_conn *c, const void *buf, size_t n);

#endif
