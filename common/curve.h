/* curve: authentication and encryption of odac's sockets with ZeroMQ's own CURVE mechanism, and
 * a ZAP handler (libzmq's authentication protocol, served on inproc://zeromq.zap.01) that admits
 * only clients whose public key is in the allow-list.
 *
 * A key directory (odac keygen DIR) holds Z85 text files:
 *   server.pub, server.key    the servers' pair: the learner's and the shards' bound sockets
 *   <name>.pub, <name>.key    a client pair (learner, actor, ...): sockets that connect
 *   allowed_clients           public keys admitted by the servers, one per line ('#' comments)
 * A *.key file holds "public <z85>\nsecret <z85>\n" and is written with mode 0600. A machine
 * that only runs actors needs server.pub and actor.key; the servers need server.key and
 * allowed_clients.
 *
 * curve_enable makes every later wire_socket* (and the actor's sockets) use CURVE: bound
 * sockets as servers, connected ones as clients presenting <client>.key. Process-global. */
#ifndef ODAC_CURVE_H
#define ODAC_CURVE_H
#include <stddef.h>

#define CURVE_KEY_TEXT 41 /* a Z85 key and its NUL */

/* Writes DIR/<name>.pub and DIR/<name>.key (a fresh pair; refuses to overwrite one); for a
 * client (name != "server") appends its public key to DIR/allowed_clients. 0, or -1 with a
 * message. */
int curve_keygen(const char *dir, const char *name, char *err, size_t errcap);

/* Loads the keys of DIR for a process whose connecting sockets present DIR/<client>.key
 * (client NULL: the process only binds), and, when zctx is given (the process binds), server.key,
 * the allow-list and a ZAP handler thread on zctx (which must outlive every socket; the thread
 * ends when zctx is terminated). 0, or -1 with a message. */
int curve_enable(void *zctx, const char *dir, const char *client, char *err, size_t errcap);
int curve_enabled(void);

/* Sets CURVE on sock before its bind (server) or connect (client), when enabled; 0 when not
 * enabled. -1 with a message when the role's key is missing. */
int curve_apply(void *sock, int bind, char *err, size_t errcap);

/* Connections the ZAP handler refused and admitted so far (stats, tests). */
unsigned long long curve_refused(void);
unsigned long long curve_admitted(void);

/* Whether a ZeroMQ endpoint stays on this machine (inproc, ipc, tcp on 127.x, localhost, ::1). */
int curve_endpoint_is_local(const char *endpoint);

/* The check every process makes (each string may be a comma-separated list): endpoints off
 * loopback need keys, or an explicit insecure
 * (--insecure). 0, or -1 with a message naming the endpoint. */
int curve_check_exposure(const char *const *endpoints, int n, int have_keys, int insecure,
                         char *err, size_t errcap);

#endif
